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
from ..ports import EvidenceDoc, Hit, TagExpertise
from .sqlite_db import SQLiteDatabase, dumps

EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
BM25_WEIGHTS = (1.0, 2.0, 1.0)
DOC_COLUMNS = "doc_id, person_id, kind, question_id, accepted, score, created_at, tags, text, answer"  # question text, tags (whole tokens), answer text


def days_since_epoch(moment: datetime | str) -> float:
    """Days from EPOCH to `moment` (an ISO string or a datetime); unknown times count as EPOCH."""
    if isinstance(moment, str):
        moment = parse_time(moment) or EPOCH
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)
    return (moment - EPOCH).total_seconds() / 86400.0


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


class EmbeddedIndex:
    """SearchIndex on SQLite FTS5 + an in-memory exact kNN matrix."""

    def __init__(self, db: SQLiteDatabase, dimensions: int = 384,
                 half_life_days: float = 180.0, activity_half_life_days: float = 30.0):
        self.db = db
        self.dimensions = dimensions
        self.half_life_days = half_life_days  # for expertise on tags
        self.activity_half_life_days = activity_half_life_days  # for recent activity
        db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._generation = -1  # the matrix reflects this generation of the table
        self._matrix = np.zeros((0, dimensions), dtype=np.float32)
        self._row_doc: list[str | None] = []
        self._row_person = np.zeros(0, dtype=np.int64)
        self._doc_row: dict[str, int] = {}
        self._person_code: dict[str, int] = {}
        self._free_rows: list[int] = []

    # Writes ------------------------------------------------------------------------------
    def upsert(self, docs: Sequence[EvidenceDoc]) -> None:
        if not docs:
            return
        with self._lock, self.db.transaction() as conn:
            for doc in docs:
                vector = None
                if doc.vector is not None:
                    vector = np.asarray(doc.vector, dtype=np.float32).tobytes()
                values = (doc.person_id, doc.kind, doc.question_id, int(doc.accepted),
                          int(doc.score), doc.created_at, dumps(doc.tags), doc.text, doc.answer,
                          vector)
                row = conn.execute("SELECT rid FROM evidence WHERE doc_id = ?",
                                   (doc.id,)).fetchone()
                if row:
                    rid = row[0]
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
            generation = self._bump(conn)
            if self._generation == generation - 1:
                for doc in docs:
                    self._set_row(doc.id, doc.person_id, doc.vector)
                self._generation = generation

    def _count(self, conn, rid: int, sign: int) -> None:
        """Add (or take back) an answer's weight to its author's activity and tag expertise."""
        row = conn.execute("SELECT person_id, kind, created_at, tags FROM evidence"
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
        if sign < 0:  # what is left of a last answer is rounding, not expertise
            conn.execute("DELETE FROM person_activity WHERE person_id = ? AND weight < 1e-9",
                         (person,))
            conn.execute("DELETE FROM person_tags WHERE person_id = ? AND weight < 1e-9",
                         (person,))

    def delete(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        with self._lock, self.db.transaction() as conn:
            for doc_id in doc_ids:
                row = conn.execute("SELECT rid FROM evidence WHERE doc_id = ?",
                                   (doc_id,)).fetchone()
                if row:
                    self._count(conn, row[0], -1)
                    conn.execute("DELETE FROM evidence_fts WHERE rowid = ?", (row[0],))
                    conn.execute("DELETE FROM evidence WHERE rid = ?", (row[0],))
            generation = self._bump(conn)
            if self._generation == generation - 1:
                for doc_id in doc_ids:
                    self._clear_row(doc_id)
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

    # The in-memory matrix ----------------------------------------------------------------
    def _set_row(self, doc_id: str, person_id: str, vector) -> None:
        if vector is None:
            self._clear_row(doc_id)
            return
        row = self._doc_row.get(doc_id)
        if row is None:
            if self._free_rows:
                row = self._free_rows.pop()
            else:
                row = len(self._row_doc)
                if row >= len(self._matrix):
                    grown = max(1024, 2 * len(self._matrix))
                    matrix = np.zeros((grown, self.dimensions), dtype=np.float32)
                    matrix[:len(self._matrix)] = self._matrix
                    people = np.full(grown, -1, dtype=np.int64)
                    people[:len(self._row_person)] = self._row_person
                    self._matrix, self._row_person = matrix, people
                self._row_doc.append(None)
            self._doc_row[doc_id] = row
            self._row_doc[row] = doc_id
        self._matrix[row] = np.asarray(vector, dtype=np.float32)
        self._row_person[row] = self._person_code.setdefault(person_id, len(self._person_code))

    def _clear_row(self, doc_id: str) -> None:
        row = self._doc_row.pop(doc_id, None)
        if row is not None:
            self._matrix[row] = 0.0
            self._row_person[row] = -1
            self._row_doc[row] = None
            self._free_rows.append(row)

    def _refresh(self) -> None:
        """Reload the matrix when another process (a reindex) changed the table."""
        generation = self.db.query(
            "SELECT value FROM index_meta WHERE key = 'generation'")[0]["value"]
        if generation == self._generation:
            return
        rows = self.db.query(
            "SELECT doc_id, person_id, vector FROM evidence WHERE vector IS NOT NULL")
        self._matrix = np.zeros((max(1024, len(rows)), self.dimensions), dtype=np.float32)
        self._row_person = np.full(len(self._matrix), -1, dtype=np.int64)
        self._row_doc, self._doc_row, self._free_rows = [], {}, []
        for row in rows:
            self._set_row(row["doc_id"], row["person_id"],
                          np.frombuffer(row["vector"], dtype=np.float32))
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

    def bm25(self, text: str, k: int, exclude_people: Iterable[str] = (),
             tags: Sequence[str] = ()) -> list[Hit]:
        expression = match_expression(text)
        tag_terms = " OR ".join('"' + tag_token(t) + '"' for t in tags if tag_token(t) != "tag")
        if tag_terms:
            expression = f"{expression} OR {tag_terms}" if expression else tag_terms
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
            count = len(self._row_doc)
            if count == 0 or k <= 0:
                return []
            scores = self._matrix[:count] @ np.asarray(vector, dtype=np.float32)
            people = self._row_person[:count]
            scores[people < 0] = -np.inf
            codes = [self._person_code[p] for p in exclude_people if p in self._person_code]
            if codes:
                scores[np.isin(people, codes)] = -np.inf
            k = min(k, count)
            kth = np.partition(scores, count - k)[count - k]
            top = np.flatnonzero(scores >= kth) if np.isfinite(kth) else np.flatnonzero(
                np.isfinite(scores))
            # Equal scores are ordered by document id, so rankings never depend on write order.
            ordered = sorted(top.tolist(), key=lambda i: (-scores[i], self._row_doc[i]))[:k]
            scored = [(self._row_doc[i], float(scores[i])) for i in ordered]
        return self._load_docs(scored)
