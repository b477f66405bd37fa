"""SearchIndex in process: BM25 from SQLite FTS5, exact kNN over vectors kept in SQLite.

Vectors live in SQLite (so a restart or another process sees them) and in one numpy matrix
in memory, scanned exactly: at 500k documents a scan is tens of milliseconds, bound by
memory bandwidth, and exact search needs no recall trade-off.
"""
from __future__ import annotations

import json
import threading
from datetime import datetime, timezone
from typing import Iterable, Sequence

import numpy as np

from ..clock import parse_time
from ..evidence import tag_token
from ..ports import EvidenceDoc, Hit, PersonMatches, TagExpertise
from .sqlite_db import SQLiteDatabase, dumps

EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
BM25_WEIGHTS = (1.0, 2.0, 1.0)
# A profile document is long and mixes many questions: each field is scored on its own (the
# other fields weighted 0) and the scores added, so a person's many words in one field do not
# swamp another field's evidence.
PROFILE_SCORE = " + ".join(
    "bm25(person_fts, " + ", ".join(str(w if i == j else 0.0) for j in range(3)) + ")"
    for i, w in enumerate(BM25_WEIGHTS))
DOC_COLUMNS = "doc_id, person_id, kind, question_id, accepted, score, created_at, tags, text, answer"  # question text, tags (whole tokens), answer text


def days_since_epoch(moment: datetime | str) -> float:
    """Days from EPOCH to `moment` (an ISO string or a datetime); unknown times count as EPOCH."""
    if isinstance(moment, str):
        moment = parse_time(moment) or EPOCH
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH).total_seconds() / 86400.0


def unit(vector: np.ndarray) -> np.ndarray | None:
    """`vector` scaled to length 1, as float32 (None for a zero vector)."""
    norm = float(np.linalg.norm(vector))
    return (vector / norm).astype(np.float32) if norm > 0 else None


def tags_field(tags: Sequence[str]) -> str:
    return " ".join(tag_token(t) for t in tags)

SCHEMA = """
CREATE TABLE IF NOT EXISTS evidence (
    rid INTEGER PRIMARY KEY,
    doc_id TEXT NOT NULL UNIQUE,
    person_id TEXT NOT NULL,
    kind TEXT NOT NULL,
    question_id TEXT,
    accepted INTEGER NOT NULL,
    score INTEGER NOT NULL,
    created_at TEXT NOT NULL,
    tags TEXT NOT NULL,
    text TEXT NOT NULL,
    answer TEXT NOT NULL,
    vector BLOB
);
CREATE INDEX IF NOT EXISTS evidence_person ON evidence(person_id);
-- Keyed by evidence.rid, so a document is replaced or removed without a scan. Three fields:
-- the question (or skills, bio), the tags as whole tokens, and the answer.
CREATE VIRTUAL TABLE IF NOT EXISTS evidence_fts USING fts5(
    text, tags, answer, tokenize = 'porter unicode61 remove_diacritics 2'
);
-- Inferred expertise, kept up to date on each write. Each answer adds 2**(days/half-life)
-- (days since EPOCH): scaling by 2**(-now/half-life) at query time gives 0.5**(age/half-life)
-- without revisiting the answers.
CREATE TABLE IF NOT EXISTS person_tags (
    person_id TEXT NOT NULL, tag TEXT NOT NULL, weight REAL NOT NULL,
    PRIMARY KEY (person_id, tag)
);
CREATE INDEX IF NOT EXISTS person_tags_tag ON person_tags(tag);
CREATE TABLE IF NOT EXISTS person_activity (person_id TEXT PRIMARY KEY, weight REAL NOT NULL);
CREATE INDEX IF NOT EXISTS person_activity_weight ON person_activity(weight);
-- Each person as a whole, kept up to date on each write: the profile document (every
-- question they answered with their answer; person_fts, keyed by person_profile.rid) and
-- the topics vector (the mean of those questions' vectors, each weighing 0.5**(age/half-life):
-- normalising cancels the common scale, so the sum never needs revisiting).
CREATE TABLE IF NOT EXISTS person_profile (
    rid INTEGER PRIMARY KEY, person_id TEXT NOT NULL UNIQUE, answers INTEGER NOT NULL,
    topics BLOB NOT NULL  -- float64: the sum of 2**(days/half-life) * vector, as person_tags
);
CREATE VIRTUAL TABLE IF NOT EXISTS person_fts USING fts5(
    text, tags, answer, tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TABLE IF NOT EXISTS index_meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
INSERT OR IGNORE INTO index_meta VALUES ('generation', 0);
"""

# Words too common to say anything about expertise (English and French).
STOPWORDS = frozenset("""
a an and are as at be been but by can could did do does for from had has have how i if in into
is it its just me my no not of on or our so than that the their them then there these they this
to was we what when where which who why will with would you your yes about any all also some
more most other such only own same very s t don should now get use using want need know like
au aux avec ce ces comment dans de des du elle en est et eux il ils je la le les leur lui ma
mais me mes moi mon ne nos notre nous on ou par pas pour qu que quel quelle qui sa se ses son
sur ta te tes toi ton tu un une vos votre vous c d j l n m y est sont être avoir faire peut
""".split())


def match_expression(text: str, max_terms: int = 48) -> str:
    """Any of the words of `text` (stop-words dropped), each quoted for FTS5."""
    words, seen = [], set()
    for word in "".join(c.lower() if c.isalnum() else " " for c in text).split():
        if word in STOPWORDS or word in seen or len(word) < 2:
            continue
        seen.add(word)
        words.append('"' + word + '"')
        if len(words) >= max_terms:
            break
    return " OR ".join(words)


class VectorTable:
    """Unit vectors in one growing matrix, scanned exactly. Each row has a key (a document
    or a person) and the code of the person it belongs to, so people can be left out."""

    def __init__(self, dimensions: int):
        self.dimensions = dimensions
        self.matrix = np.zeros((0, dimensions), dtype=np.float32)
        self.owners = np.zeros(0, dtype=np.int64)
        self.keys: list[str | None] = []
        self.rows: dict[str, int] = {}
        self.free: list[int] = []

    def set(self, key: str, owner: int, vector) -> None:
        if vector is None:
            self.remove(key)
            return
        row = self.rows.get(key)
        if row is None:
            if self.free:
                row = self.free.pop()
            else:
                row = len(self.keys)
                if row >= len(self.matrix):
                    grown = max(1024, 2 * len(self.matrix))
                    matrix = np.zeros((grown, self.dimensions), dtype=np.float32)
                    matrix[:len(self.matrix)] = self.matrix
                    owners = np.full(grown, -1, dtype=np.int64)
                    owners[:len(self.owners)] = self.owners
                    self.matrix, self.owners = matrix, owners
                self.keys.append(None)
            self.rows[key] = row
            self.keys[row] = key
        self.matrix[row] = np.asarray(vector, dtype=np.float32)
        self.owners[row] = owner

    def remove(self, key: str) -> None:
        row = self.rows.pop(key, None)
        if row is not None:
            self.matrix[row] = 0.0
            self.owners[row] = -1
            self.keys[row] = None
            self.free.append(row)

    def top(self, vector, k: int, excluded_owners: Sequence[int] = ()) -> list[tuple[str, float]]:
        """The `k` best keys by dot product, best first; ties by key, so a ranking never
        depends on write order."""
        count = len(self.keys)
        if count == 0 or k <= 0:
            return []
        scores = self.matrix[:count] @ np.asarray(vector, dtype=np.float32)
        owners = self.owners[:count]
        scores[owners < 0] = -np.inf
        if len(excluded_owners):
            scores[np.isin(owners, excluded_owners)] = -np.inf
        k = min(k, count)
        kth = np.partition(scores, count - k)[count - k]
        top = np.flatnonzero(scores >= kth) if np.isfinite(kth) else np.flatnonzero(
            np.isfinite(scores))
        ordered = sorted(top.tolist(), key=lambda i: (-scores[i], self.keys[i]))[:k]
        return [(self.keys[i], float(scores[i])) for i in ordered]


class EmbeddedIndex:
    """SearchIndex on SQLite FTS5 + in-memory exact kNN matrices (documents, and people)."""

    def __init__(self, db: SQLiteDatabase, dimensions: int = 384,
                 half_life_days: float = 180.0, activity_half_life_days: float = 30.0):
        self.db = db
        self.dimensions = dimensions
        self.half_life_days = half_life_days  # for expertise on tags and topics vectors
        self.activity_half_life_days = activity_half_life_days  # for recent activity
        db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._generation = -1  # the matrices reflect this generation of the tables
        self._docs = VectorTable(dimensions)  # answer, skills and bio documents
        self._people = VectorTable(dimensions)  # each person's topics vector
        self._person_code: dict[str, int] = {}
        self._backfill_people()

    # Writes ------------------------------------------------------------------------------
    def upsert(self, docs: Sequence[EvidenceDoc]) -> None:
        if not docs:
            return
        with self._lock, self.db.transaction() as conn:
            touched: set[str] = set()
            for doc in docs:
                vector = None
                if doc.vector is not None:
                    vector = np.asarray(doc.vector, dtype=np.float32).tobytes()
                values = (doc.person_id, doc.kind, doc.question_id, int(doc.accepted),
                          int(doc.score), doc.created_at, dumps(doc.tags), doc.text, doc.answer,
                          vector)
                row = conn.execute("SELECT rid, person_id FROM evidence WHERE doc_id = ?",
                                   (doc.id,)).fetchone()
                if row:
                    rid = row[0]
                    touched.add(row[1])
                    self._count(conn, rid, -1)
                    conn.execute("UPDATE evidence SET person_id=?, kind=?, question_id=?,"
                                 " accepted=?, score=?, created_at=?, tags=?, text=?, answer=?,"
                                 " vector=? WHERE rid = ?", (*values, rid))
                    conn.execute("DELETE FROM evidence_fts WHERE rowid = ?", (rid,))
                else:
                    rid = conn.execute(
                        "INSERT INTO evidence (doc_id, person_id, kind, question_id, accepted,"
                        " score, created_at, tags, text, answer, vector)"
                        " VALUES (?,?,?,?,?,?,?,?,?,?,?)", (doc.id, *values)).lastrowid
                conn.execute("INSERT INTO evidence_fts (rowid, text, tags, answer)"
                             " VALUES (?, ?, ?, ?)", (rid, doc.text, tags_field(doc.tags),
                                                      doc.answer))
                self._count(conn, rid, +1)
                if doc.kind == "answer":
                    touched.add(doc.person_id)
            topics = self._rebuild_people(conn, touched)
            generation = self._bump(conn)
            if self._generation == generation - 1:
                for doc in docs:
                    self._docs.set(doc.id, self._code(doc.person_id), doc.vector)
                self._set_topics(topics)
                self._generation = generation

    def _count(self, conn, rid: int, sign: int) -> None:
        """Add (or take back) an answer's weight to its author's activity, tag expertise and
        topics vector."""
        row = conn.execute("SELECT person_id, kind, created_at, tags, vector FROM evidence"
                           " WHERE rid = ?", (rid,)).fetchone()
        if row is None or row["kind"] != "answer":
            return
        days = days_since_epoch(row["created_at"])
        weight = sign * 2.0 ** (days / self.half_life_days)
        person = row["person_id"]
        conn.execute("INSERT INTO person_activity VALUES (?, ?) ON CONFLICT(person_id)"
                     " DO UPDATE SET weight = max(0, weight + excluded.weight)",
                     (person, sign * 2.0 ** (days / self.activity_half_life_days)))
        conn.executemany("INSERT INTO person_tags VALUES (?, ?, ?) ON CONFLICT(person_id, tag)"
                         " DO UPDATE SET weight = max(0, weight + excluded.weight)",
                         [(person, tag, weight) for tag in set(json.loads(row["tags"]))])
        self._add_to_profile(conn, person, sign, weight, row["vector"])
        if sign < 0:  # what is left of a last answer is rounding, not expertise
            conn.execute("DELETE FROM person_activity WHERE person_id = ? AND weight < 1e-9",
                         (person,))
            conn.execute("DELETE FROM person_tags WHERE person_id = ? AND weight < 1e-9",
                         (person,))

    def _add_to_profile(self, conn, person: str, sign: int, weight: float, vector) -> None:
        """Count one answer more (or less) in the person's profile and topics vector."""
        profile = conn.execute("SELECT answers, topics FROM person_profile WHERE person_id = ?",
                               (person,)).fetchone()
        answers = (profile["answers"] if profile else 0) + sign
        topics = np.zeros(self.dimensions) if profile is None else np.frombuffer(
            profile["topics"], dtype=np.float64)
        if vector is not None:
            topics = topics + weight * np.frombuffer(vector, dtype=np.float32)
        conn.execute("INSERT INTO person_profile (person_id, answers, topics) VALUES (?, ?, ?)"
                     " ON CONFLICT(person_id) DO UPDATE SET answers = excluded.answers,"
                     " topics = excluded.topics", (person, answers, topics.tobytes()))

    def _backfill_people(self) -> None:
        """An index written before person profiles existed gets them from its answers, once."""
        with self._lock, self.db.transaction() as conn:
            if (conn.execute("SELECT 1 FROM person_profile LIMIT 1").fetchone()
                    or not conn.execute("SELECT 1 FROM evidence WHERE kind = 'answer'"
                                        " LIMIT 1").fetchone()):
                return
            people = set()
            for row in conn.execute("SELECT person_id, created_at, vector FROM evidence"
                                    " WHERE kind = 'answer'").fetchall():
                weight = 2.0 ** (days_since_epoch(row["created_at"]) / self.half_life_days)
                self._add_to_profile(conn, row["person_id"], +1, weight, row["vector"])
                people.add(row["person_id"])
            self._rebuild_people(conn, people)
            self._bump(conn)

    def _rebuild_people(self, conn, people: set[str]) -> dict[str, np.ndarray | None]:
        """Rewrite the profile document of each of `people` (once per write, however many of
        their answers it holds; SQLite concatenates the texts) and return their topics
        vectors, normalised (None: no answer left, and the person's row goes)."""
        topics: dict[str, np.ndarray | None] = {}
        for person in sorted(people):
            profile = conn.execute("SELECT rid, answers, topics FROM person_profile"
                                   " WHERE person_id = ?", (person,)).fetchone()
            if profile is None:
                topics[person] = None
                continue
            conn.execute("DELETE FROM person_fts WHERE rowid = ?", (profile["rid"],))
            if profile["answers"] <= 0:
                conn.execute("DELETE FROM person_profile WHERE rid = ?", (profile["rid"],))
                topics[person] = None
                continue
            conn.execute(
                "INSERT INTO person_fts (rowid, text, tags, answer)"
                " SELECT ?, group_concat(f.text, char(10)), group_concat(f.tags, ' '),"
                " group_concat(f.answer, char(10)) FROM evidence e"
                " JOIN evidence_fts f ON f.rowid = e.rid"
                " WHERE e.person_id = ? AND e.kind = 'answer'", (profile["rid"], person))
            topics[person] = unit(np.frombuffer(profile["topics"], dtype=np.float64))
        return topics

    def delete(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        with self._lock, self.db.transaction() as conn:
            touched: set[str] = set()
            for doc_id in doc_ids:
                row = conn.execute("SELECT rid, person_id, kind FROM evidence WHERE doc_id = ?",
                                   (doc_id,)).fetchone()
                if row:
                    self._count(conn, row[0], -1)
                    conn.execute("DELETE FROM evidence_fts WHERE rowid = ?", (row[0],))
                    conn.execute("DELETE FROM evidence WHERE rid = ?", (row[0],))
                    if row[2] == "answer":
                        touched.add(row[1])
            topics = self._rebuild_people(conn, touched)
            generation = self._bump(conn)
            if self._generation == generation - 1:
                for doc_id in doc_ids:
                    self._docs.remove(doc_id)
                self._set_topics(topics)
                self._generation = generation

    def person_doc_ids(self, person_id: str) -> set[str]:
        return {r["doc_id"] for r in self.db.query(
            "SELECT doc_id FROM evidence WHERE person_id = ?", (person_id,))}

    def delete_person(self, person_id: str) -> None:
        self.delete(sorted(self.person_doc_ids(person_id)))

    def doc_ids(self) -> set[str]:
        return {r["doc_id"] for r in self.db.query("SELECT doc_id FROM evidence")}

    @staticmethod
    def _bump(conn) -> int:
        conn.execute("UPDATE index_meta SET value = value + 1 WHERE key = 'generation'")
        return conn.execute("SELECT value FROM index_meta WHERE key = 'generation'").fetchone()[0]

    # The in-memory matrices --------------------------------------------------------------
    def _code(self, person_id: str) -> int:
        return self._person_code.setdefault(person_id, len(self._person_code))

    def _set_topics(self, topics: dict[str, np.ndarray | None]) -> None:
        for person, vector in topics.items():
            self._people.set(person, self._code(person), vector)

    def _excluded_codes(self, people: Iterable[str]) -> list[int]:
        return [self._person_code[p] for p in people if p in self._person_code]

    def _refresh(self) -> None:
        """Reload the matrices when another process (a reindex) changed the tables."""
        generation = self.db.query(
            "SELECT value FROM index_meta WHERE key = 'generation'")[0]["value"]
        if generation == self._generation:
            return
        self._docs, self._people = VectorTable(self.dimensions), VectorTable(self.dimensions)
        for row in self.db.query(
                "SELECT doc_id, person_id, vector FROM evidence WHERE vector IS NOT NULL"):
            self._docs.set(row["doc_id"], self._code(row["person_id"]),
                           np.frombuffer(row["vector"], dtype=np.float32))
        for row in self.db.query("SELECT person_id, topics FROM person_profile"):
            self._people.set(row["person_id"], self._code(row["person_id"]),
                             unit(np.frombuffer(row["topics"], dtype=np.float64)))
        self._generation = generation

    # Reads -------------------------------------------------------------------------------
    @staticmethod
    def _doc(row, with_vector: bool = False) -> EvidenceDoc:
        vector = None
        if with_vector and row["vector"] is not None:
            vector = np.frombuffer(row["vector"], dtype=np.float32)
        return EvidenceDoc(
            id=row["doc_id"], person_id=row["person_id"], kind=row["kind"], text=row["text"],
            answer=row["answer"], tags=json.loads(row["tags"]), question_id=row["question_id"],
            accepted=bool(row["accepted"]), score=row["score"], created_at=row["created_at"],
            vector=vector)

    def all_docs(self) -> list[EvidenceDoc]:
        """Every document with its vector (to copy the index to another backend)."""
        return [self._doc(r, with_vector=True) for r in self.db.query(
            f"SELECT {DOC_COLUMNS}, vector FROM evidence ORDER BY rid")]

    def _load_docs(self, scored: list[tuple[str, float]]) -> list[Hit]:
        if not scored:
            return []
        marks = ",".join("?" * len(scored))
        rows = self.db.query(f"SELECT {DOC_COLUMNS} FROM evidence WHERE doc_id IN ({marks})",
                             [doc_id for doc_id, _ in scored])
        docs = {r["doc_id"]: self._doc(r) for r in rows}
        return [Hit(docs[doc_id], score) for doc_id, score in scored if doc_id in docs]

    @staticmethod
    def _expression(text: str, tags: Sequence[str]) -> str:
        """The FTS5 query: any word of `text`, or any of `tags` as a whole token."""
        expression = match_expression(text)
        tag_terms = " OR ".join('"' + tag_token(t) + '"' for t in tags if tag_token(t) != "tag")
        if tag_terms:
            expression = f"{expression} OR {tag_terms}" if expression else tag_terms
        return expression

    def bm25(self, text: str, k: int, exclude_people: Iterable[str] = (),
             tags: Sequence[str] = ()) -> list[Hit]:
        expression = self._expression(text, tags)
        if not expression or k <= 0:
            return []
        excluded = list(dict.fromkeys(exclude_people))
        clause = ""
        if excluded:
            clause = f" AND e.person_id NOT IN ({','.join('?' * len(excluded))})"
        rows = self.db.query(
            f"SELECT e.doc_id AS doc_id, bm25(evidence_fts, {', '.join(map(str, BM25_WEIGHTS))})"
            f" AS rank FROM evidence_fts"
            f" JOIN evidence e ON e.rid = evidence_fts.rowid"
            f" WHERE evidence_fts MATCH ?{clause} ORDER BY rank, e.doc_id LIMIT ?",
            [expression, *excluded, k])
        # FTS5's bm25() is lower-is-better; the port promises higher-is-better.
        return self._load_docs([(r["doc_id"], -r["rank"]) for r in rows])

    def retrieve(self, text: str, vector, k: int, exclude_people: Iterable[str] = (),
                 tags: Sequence[str] = (), k_knn: int | None = None):
        excluded = list(exclude_people)
        return (self.bm25(text, k, excluded, tags),
                self.knn(vector, k if k_knn is None else k_knn, excluded))

    @staticmethod
    def _scale(now: datetime, half_life_days: float) -> float:
        return 2.0 ** (-days_since_epoch(now) / half_life_days)

    def tag_expertise(self, tags: Sequence[str], now: datetime, limit: int,
                      exclude_people: Iterable[str] = ()) -> TagExpertise:
        tags = list(dict.fromkeys(tags))
        if not tags or limit <= 0:
            return TagExpertise({}, {})
        excluded = list(dict.fromkeys(exclude_people))
        marks = ",".join("?" * len(tags))
        totals = {r["tag"]: r["total"] for r in self.db.query(
            f"SELECT tag, SUM(weight) AS total FROM person_tags WHERE tag IN ({marks})"
            " GROUP BY tag", tags) if r["total"] > 0}
        if not totals:
            return TagExpertise({}, {})
        clause = f" AND p.person_id NOT IN ({','.join('?' * len(excluded))})" if excluded else ""
        # A person's share of a tag is their weight over everyone's; summed over the tags.
        share_of_tag = "CASE p.tag " + " ".join("WHEN ? THEN p.weight / ?" for _ in totals) + " END"
        rows = self.db.query(
            f"SELECT p.person_id AS person_id, SUM({share_of_tag}) AS share FROM person_tags p"
            f" WHERE p.tag IN ({','.join('?' * len(totals))}){clause}"
            " GROUP BY p.person_id ORDER BY share DESC, p.person_id LIMIT ?",
            [*(v for item in totals.items() for v in item), *totals, *excluded, limit])
        people = [r["person_id"] for r in rows]
        scale = self._scale(now, self.half_life_days)
        detail: dict[str, dict[str, float]] = {p: {} for p in people}
        for start in range(0, len(people), 500):
            chunk = people[start:start + 500]
            for r in self.db.query(
                    f"SELECT person_id, tag, weight FROM person_tags WHERE person_id IN"
                    f" ({','.join('?' * len(chunk))}) AND tag IN ({marks})", [*chunk, *tags]):
                detail[r["person_id"]][r["tag"]] = r["weight"] * scale
        return TagExpertise(detail, {t: total * scale for t, total in totals.items()})

    def activity(self, person_ids: Iterable[str], now: datetime, top: int,
                 exclude_people: Iterable[str] = ()) -> dict[str, float]:
        ids = list(dict.fromkeys(person_ids))
        excluded = list(dict.fromkeys(exclude_people))
        scale = self._scale(now, self.activity_half_life_days)
        found: dict[str, float] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            for r in self.db.query(f"SELECT person_id, weight FROM person_activity WHERE"
                                   f" person_id IN ({','.join('?' * len(chunk))})", chunk):
                found[r["person_id"]] = r["weight"] * scale
        clause = f"WHERE person_id NOT IN ({','.join('?' * len(excluded))})" if excluded else ""
        for r in self.db.query(f"SELECT person_id, weight FROM person_activity {clause}"
                               " ORDER BY weight DESC, person_id LIMIT ?", [*excluded, top]):
            found[r["person_id"]] = r["weight"] * scale
        return found

    def knn(self, vector, k: int, exclude_people: Iterable[str] = ()) -> list[Hit]:
        with self._lock:
            self._refresh()
            scored = self._docs.top(vector, k, self._excluded_codes(exclude_people))
        return self._load_docs(scored)

    def people(self, text: str, vector, k: int, exclude_people: Iterable[str] = (),
               tags: Sequence[str] = ()) -> PersonMatches:
        excluded = list(dict.fromkeys(exclude_people))
        with self._lock:
            self._refresh()
            topics = {person: score for person, score in
                      self._people.top(vector, k, self._excluded_codes(excluded)) if score > 0}
        expression = self._expression(text, tags)
        if not expression or k <= 0:
            return PersonMatches({}, topics)
        clause = f" AND p.person_id NOT IN ({','.join('?' * len(excluded))})" if excluded else ""
        rows = self.db.query(
            f"SELECT p.person_id AS person_id, {PROFILE_SCORE} AS rank FROM person_fts"
            f" JOIN person_profile p ON p.rid = person_fts.rowid"
            f" WHERE person_fts MATCH ?{clause} ORDER BY rank, p.person_id LIMIT ?",
            [expression, *excluded, k])
        return PersonMatches({r["person_id"]: -r["rank"] for r in rows}, topics)
