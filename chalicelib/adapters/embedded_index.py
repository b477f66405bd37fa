"""SearchIndex in process: BM25 as SQLite FTS5 ranks it, exact kNN over vectors kept in SQLite.

Everything lives in SQLite, so a restart or another process sees it: the documents with their
vectors, their FTS5 table (evidence_fts) and, per person, a profile document (all their
answers as one text, person_fts), kept up to date on every write. What a query reads is also
held in memory, and loaded again when another process has written:

- the vectors (documents, and people's topics vectors) in numpy matrices, scanned exactly
  (rows with the same vector, the answers of one question, share one matrix row): a scan is
  bound by memory bandwidth, and exact search needs no recall trade-off;
- FTS5's token counts (TermTable; stored per document in evidence_terms): BM25 is computed
  with numpy as FTS5's bm25() computes it, to the same doubles, over the postings of the
  query's terms only. FTS5 itself computes bm25() for every row matching any query word, and
  a common word matches most rows: half a second at 400k documents. FTS5 answers itself
  where the counts cannot say what it would (a query word it splits into several tokens);
- people's activity, and each tag's people and weights (a write drops the columns of the
  tags it touched, read again on their next use), so inferred expertise is a few array
  operations, not an SQL aggregation over everyone on a popular tag.
"""
from __future__ import annotations

import atexit
import dataclasses
import gc
import json
import logging
import math
import re
import threading
from collections import Counter
from contextlib import contextmanager
from datetime import datetime, timezone
from itertools import chain
from typing import Iterable, Sequence

import numpy as np

from ..clock import parse_time
from ..evidence import tag_token
from ..ports import EvidenceDoc, Hit, PersonMatches, TagExpertise
from .sqlite_db import SQLiteDatabase, dumps

log = logging.getLogger("relais.index")

EPOCH = datetime(2020, 1, 1, tzinfo=timezone.utc)
# What a load freezes (`_refresh`) is skipped by the collection at interpreter exit: handed
# back first, extension objects (the embedding model's) are released instead of reported as
# leaked.
atexit.register(gc.unfreeze)
BM25_WEIGHTS = (1.0, 2.0, 1.0)
BM25_K1, BM25_B = 1.2, 0.75  # FTS5's bm25() constants (fts5_aux.c)
FTS5_TOKENIZE = "porter unicode61 remove_diacritics 2"
# A profile document is long and mixes many questions: each field is scored on its own (the
# other fields weighted 0) and the scores added, so a person's many words in one field do not
# swamp another field's evidence.
PROFILE_SCORE = " + ".join(
    "bm25(person_fts, " + ", ".join(str(w if i == j else 0.0) for j in range(3)) + ")"
    for i, w in enumerate(BM25_WEIGHTS))
# _load_docs sets exactly these fields; EvidenceDoc must not gain any it would leave unset.
assert [f.name for f in dataclasses.fields(EvidenceDoc)] == [
    "id", "person_id", "kind", "text", "tags", "answer", "question_id", "accepted", "score",
    "created_at", "vector"] and not hasattr(EvidenceDoc, "__post_init__")
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
-- The tokens FTS5 indexed for each document, so BM25 is scored in memory (TermTable) without
-- tokenising every document again on loading: per distinct token its term number (from
-- evidence_vocab) and its count in each column (POSTING; WIDE_POSTING if `wide`).
-- index_meta's 'counted' is the generation they are known to match: every write bumps
-- both, so after a write by a version that does not keep them (it bumps 'generation'
-- only), or with no 'counted' yet, the next loading counts every document again.
CREATE TABLE IF NOT EXISTS evidence_vocab (id INTEGER PRIMARY KEY, term TEXT NOT NULL UNIQUE);
CREATE TABLE IF NOT EXISTS evidence_terms (
    rid INTEGER PRIMARY KEY, wide INTEGER NOT NULL, terms BLOB NOT NULL
);
DROP TRIGGER IF EXISTS evidence_terms_changed;  -- 'counted' instead (triggers slowed updates)
DROP TRIGGER IF EXISTS evidence_terms_removed;
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


def query_words(text: str, max_terms: int = 48) -> list[str]:
    """The words of `text` a search looks for: lower-cased, stop-words dropped, once each."""
    words, seen = [], set()
    for word in "".join(c.lower() if c.isalnum() else " " for c in text).split():
        if word in STOPWORDS or word in seen or len(word) < 2:
            continue
        seen.add(word)
        words.append(word)
        if len(words) >= max_terms:
            break
    return words


def match_expression(text: str, max_terms: int = 48) -> str:
    """Any of the words of `text` (stop-words dropped), each quoted for FTS5."""
    return " OR ".join('"' + word + '"' for word in query_words(text, max_terms))


@contextmanager
def _one_blas_thread():
    """numpy's BLAS on one thread for a scan: on a few shared cores a second thread does not
    make a memory-bound matrix-vector product faster, and its worker keeps spinning after
    the call, stalling what runs next (the embedding, SQLite)."""
    if _BLAS is None:
        yield
        return
    with _BLAS.limit(limits=1, user_api="blas"):
        yield


try:  # installed with sentence-transformers; the API Lambda does without it
    from threadpoolctl import ThreadpoolController
    _BLAS = ThreadpoolController()
except Exception:  # pragma: no cover - optional
    _BLAS = None


class VectorTable:
    """Unit vectors, scanned exactly. Each row has a key (a document or a person) and the
    code of the person it belongs to, so people can be left out. Rows with the same vector
    (the answers of one question share their question's vector) share one row of the
    scanned matrix, so a scan reads each distinct vector once."""

    def __init__(self, dimensions: int):
        self.dimensions = dimensions
        self.matrix = np.zeros((0, dimensions), dtype=np.float32)  # distinct vectors
        self.refs = np.zeros(0, dtype=np.int64)  # rows using each distinct vector
        self.distinct = 0  # distinct vectors in use or free (the scanned part of `matrix`)
        self.by_hash: dict[int, list[int]] = {}
        self.free_vectors: list[int] = []
        self.vector_of = np.zeros(0, dtype=np.int64)  # row -> distinct vector
        self.owners = np.zeros(0, dtype=np.int64)
        self.owned = np.zeros(0, dtype=np.int64)  # live rows per owner
        self.keys: list[str | None] = []
        self.rows: dict[str, int] = {}
        self.free: list[int] = []

    def _own(self, owner: int, sign: int) -> None:
        if owner >= len(self.owned):
            grown = np.zeros(max(owner + 1, 2 * len(self.owned), 1024), dtype=np.int64)
            grown[:len(self.owned)] = self.owned
            self.owned = grown
        self.owned[owner] += sign

    def load(self, rows: Iterable[tuple[str, int, bytes]]) -> None:
        """Fill an empty table with rows (key, owner, float32 vector as bytes), keys distinct."""
        distinct: list[bytes] = []
        vector_of: list[int] = []
        owners: list[int] = []
        for key, owner, data in rows:
            digest = hash(data)
            same = self.by_hash.get(digest)
            number = None
            if same is not None:
                for candidate in same:
                    if distinct[candidate] == data:
                        number = candidate
                        break
            if number is None:
                number = len(distinct)
                distinct.append(data)
                self.by_hash.setdefault(digest, []).append(number)
            self.rows[key] = len(self.keys)
            self.keys.append(key)
            vector_of.append(number)
            owners.append(owner)
        self.matrix = np.frombuffer(b"".join(distinct), dtype=np.float32).reshape(
            len(distinct), self.dimensions).copy()
        self.vector_of = np.array(vector_of, dtype=np.int64)
        self.owners = np.array(owners, dtype=np.int64)
        self.owned = np.bincount(self.owners, minlength=1024) if owners else np.zeros(
            1024, dtype=np.int64)
        self.refs = np.bincount(self.vector_of, minlength=len(distinct)).astype(np.int64)
        self.distinct = len(distinct)

    def _intern(self, vector: np.ndarray) -> int:
        """The distinct-vector number of `vector`, added if new; counts one more use."""
        data = vector.tobytes()
        digest = hash(data)
        for number in self.by_hash.get(digest, ()):
            if self.matrix[number].tobytes() == data:
                self.refs[number] += 1
                return number
        if self.free_vectors:
            number = self.free_vectors.pop()
        else:
            number = self.distinct
            self.distinct += 1
            if number >= len(self.matrix):
                grown = max(1024, 2 * len(self.matrix))
                matrix = np.zeros((grown, self.dimensions), dtype=np.float32)
                matrix[:len(self.matrix)] = self.matrix
                refs = np.zeros(grown, dtype=np.int64)
                refs[:len(self.refs)] = self.refs
                self.matrix, self.refs = matrix, refs
        self.matrix[number] = vector
        self.refs[number] = 1
        self.by_hash.setdefault(digest, []).append(number)
        return number

    def _release(self, number: int) -> None:
        self.refs[number] -= 1
        if self.refs[number] == 0:
            digest = hash(self.matrix[number].tobytes())
            same = self.by_hash[digest]
            same.remove(number)
            if not same:
                del self.by_hash[digest]
            self.matrix[number] = 0.0
            self.free_vectors.append(number)

    def set(self, key: str, owner: int, vector) -> None:
        if vector is None:
            self.remove(key)
            return
        vector = np.asarray(vector, dtype=np.float32).reshape(self.dimensions)
        row = self.rows.get(key)
        if row is None:
            if self.free:
                row = self.free.pop()
            else:
                row = len(self.keys)
                if row >= len(self.owners):
                    grown = max(1024, 2 * len(self.owners))
                    owners = np.full(grown, -1, dtype=np.int64)
                    owners[:len(self.owners)] = self.owners
                    vector_of = np.zeros(grown, dtype=np.int64)
                    vector_of[:len(self.vector_of)] = self.vector_of
                    self.owners, self.vector_of = owners, vector_of
                self.keys.append(None)
            self.rows[key] = row
            self.keys[row] = key
        else:
            self._release(int(self.vector_of[row]))
            self._own(int(self.owners[row]), -1)
        self.vector_of[row] = self._intern(vector)
        self.owners[row] = owner
        self._own(owner, +1)

    def remove(self, key: str) -> None:
        row = self.rows.pop(key, None)
        if row is not None:
            self._release(int(self.vector_of[row]))
            self._own(int(self.owners[row]), -1)
            self.vector_of[row] = 0
            self.owners[row] = -1
            self.keys[row] = None
            self.free.append(row)

    def top(self, vector, k: int, excluded_owners: Sequence[int] = ()) -> list[tuple[str, float]]:
        """The `k` best keys by dot product, best first; ties by key, so a ranking never
        depends on write order."""
        count = len(self.keys)
        if count == 0 or k <= 0:
            return []
        with _one_blas_thread():
            distinct = self.matrix[:self.distinct] @ np.asarray(vector, dtype=np.float32)
        distinct[self.refs[:self.distinct] == 0] = -np.inf  # free
        # The best `wanted` distinct vectors hold at least k rows of people not excluded
        # (each has a row; excluded people have `skipped` rows): the k best rows are among
        # the rows of vectors scoring at least the wanted-th best.
        excluded = np.asarray([o for o in excluded_owners if 0 <= o < len(self.owned)],
                              dtype=np.int64)
        skipped = int(self.owned[excluded].sum()) if len(excluded) else 0
        wanted = k + skipped
        if wanted < self.distinct:
            floor = np.partition(distinct, self.distinct - wanted)[self.distinct - wanted]
            rows = np.flatnonzero((distinct >= floor)[self.vector_of[:count]])
        else:
            rows = np.arange(count)
        owners = self.owners[rows]
        keep = owners >= 0
        if len(excluded):
            keep &= ~np.isin(owners, excluded)
        rows = rows[keep]
        scores = distinct[self.vector_of[rows]]
        keep = np.isfinite(scores)
        rows, scores = rows[keep], scores[keep]
        if len(rows) > k:
            kth = np.partition(scores, len(rows) - k)[len(rows) - k]
            near = scores >= kth
            rows, scores = rows[near], scores[near]
        ordered = sorted(zip(rows.tolist(), scores.tolist()),
                         key=lambda item: (-item[1], self.keys[item[0]]))[:k]
        return [(self.keys[row], score) for row, score in ordered]


# What str.split() splits at (every c with c.isspace(); a test checks the list).
WHITESPACE = ("\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003"
              "\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


class Tokenizer:
    """FTS5's own tokenizer, so that counts kept outside FTS5 are the tokens it indexed: texts
    go through a scratch contentless FTS5 table (in the connection's temp schema, same
    tokenizer) and come back through fts5vocab. Whitespace always separates tokens (checked
    on first use), so each whitespace-separated chunk is tokenised once and cached."""

    CACHE = 500_000  # chunks; the cache starts afresh beyond that

    def __init__(self, db: SQLiteDatabase, tokenize: str):
        self.db = db
        self.tokenize = tokenize
        self.cache: dict[str, tuple[str, ...]] = {}
        self._ready = False

    def _setup(self) -> None:
        if self._ready:
            return
        with self.db.lock:
            self.db.conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.relais_tokenizer USING fts5("
                f"chunk, content='', tokenize = '{self.tokenize}')")
            self.db.conn.execute(
                "CREATE VIRTUAL TABLE IF NOT EXISTS temp.relais_tokenizer_terms USING"
                " fts5vocab(temp, relais_tokenizer, instance)")
        self._ready = True
        if any(len(t) != 2 for t in self._tokenize([f"a{s}b" for s in WHITESPACE])):
            raise RuntimeError(f"tokenizer {self.tokenize!r} keeps whitespace in tokens")

    def _tokenize(self, texts: list[str]) -> list[tuple[str, ...]]:
        """Each text's tokens, in order, as FTS5 indexes them."""
        found: list[list[tuple[int, str]]] = [[] for _ in texts]
        with self.db.lock:
            conn = self.db.conn
            conn.executemany("INSERT INTO temp.relais_tokenizer (rowid, chunk) VALUES (?, ?)",
                             list(enumerate(texts)))
            for doc, offset, term in conn.execute(
                    "SELECT doc, offset, term FROM temp.relais_tokenizer_terms"):
                found[doc].append((offset, term))
            conn.execute("INSERT INTO temp.relais_tokenizer (relais_tokenizer)"
                         " VALUES ('delete-all')")
        return [tuple(term for _, term in sorted(tokens)) for tokens in found]

    def chunks(self, chunks: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """The cache, holding (at least) every one of `chunks`."""
        self._setup()
        cache = self.cache
        missing = list({c for c in chunks if c not in cache})
        if missing:
            if len(cache) + len(missing) > self.CACHE:
                self.cache = cache = {}
            for start in range(0, len(missing), 4096):
                part = missing[start:start + 4096]
                cache.update(zip(part, self._tokenize(part)))
        return cache

    def counts(self, rows: Sequence[Sequence[str]]) -> list[list[tuple[str, int]]]:
        """For each row of column values, and each column: [(term, its count there)]."""
        split = [[value.split() for value in row] for row in rows]
        tokens = self.chunks(chunk for row in split for value in row for chunk in value).get
        return [[list(Counter(chain.from_iterable(map(tokens, chunks))).items())
                 for chunks in row] for row in split]


# A document's tokens as stored (evidence_terms.terms): per distinct token, its term number
# (evidence_vocab.id) and its count in each FTS5 column; WIDE where a count passes 65535.
POSTING = np.dtype([("term", "<i4"), ("counts", "<u2", (3,))])
WIDE_POSTING = np.dtype([("term", "<i4"), ("counts", "<u4", (3,))])


class TermTable:
    """What bm25() reads of evidence_fts, in memory: per term, the documents holding it and
    its count in each column, and each document's size in tokens. A query is scored with
    numpy the way fts5_aux.c scores it (same formula, same operations in the same order:
    the same doubles), but only over the query's terms' postings, with no SQLite row to
    visit per match. A person's profile document (person_fts: their answers end to end) is
    scored from their answers' counts summed (kept per term and person as well).

    Each write of a document takes a new slot; rewritten and removed documents' slots and
    postings go when the table compacts. Postings written since are kept in chunks, each
    sorted by term; people whose answers changed since are 'dirty' and summed afresh."""

    def __init__(self, weights: Sequence[float] = BM25_WEIGHTS):
        self.weights = tuple(float(w) for w in weights)
        self.columns = len(self.weights)
        self.version = 0  # changes with every write
        # Per slot: the document, its person's code, whether it is an answer, its size in
        # tokens, whether it is live, and its number of postings.
        self.keys: list[str | None] = []
        self.slot_of: dict[str, int] = {}
        self.owner = np.zeros(0, dtype=np.int64)
        self.answer = np.zeros(0, dtype=bool)
        self.size = np.zeros(0, dtype=np.int64)
        self.alive = np.zeros(0, dtype=bool)
        self.postings_of = np.zeros(0, dtype=np.int64)
        # Postings: one part sorted by term (term t's are base_*[ptr[t]:ptr[t + 1]], by
        # slot), then chunks (terms, slots, counts, freq) written since, each sorted by term.
        # `freq` is FTS5's weighted frequency for `weights` (exact: integer weights).
        self.ptr = np.zeros(1, dtype=np.int64)
        self.base_slots = np.zeros(0, dtype=np.int32)
        self.base_counts = np.zeros((0, self.columns), dtype=np.uint16)
        self.base_freq = np.zeros(0, dtype=np.float32)
        self.pending: list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]] = []
        self.pending_postings = 0
        self.dead_postings = 0
        # Per term and person (answers only), summed, as of the last compaction.
        self.person_ptr = np.zeros(1, dtype=np.int64)
        self.person_codes = np.zeros(0, dtype=np.int32)
        self.person_counts = np.zeros((0, self.columns), dtype=np.uint32)
        # FTS5's table statistics: rows and tokens of evidence_fts, and of person_fts (one
        # row per person with answers, their answers' tokens); per person since compaction.
        self.rows = 0
        self.tokens = 0
        self.person_size = np.zeros(0, dtype=np.int64)
        self.person_docs = np.zeros(0, dtype=np.int64)
        self.dirty = np.zeros(0, dtype=bool)
        self.dirty_people = 0
        self.people_rows = 0
        self.people_tokens = 0
        self._cache: dict[str, tuple[int, np.ndarray]] = {}
        self.last_plan = ""  # how the last query was scored: "pruned" or "full"

    @staticmethod
    def _grow(array: np.ndarray, size: int, fill=0) -> np.ndarray:
        if size <= len(array):
            return array
        grown = np.full((max(size, 2 * len(array), 1024),) + array.shape[1:], fill,
                        dtype=array.dtype)
        grown[:len(array)] = array
        return grown

    def add(self, docs: Sequence[tuple[str, int, bool, np.ndarray]]) -> None:
        """Documents as (doc id, person code, is an answer, postings: a POSTING array); one
        already here is replaced."""
        if not docs:
            return
        for doc_id, *_ in docs:
            self.remove(doc_id)
        self._append([doc[0] for doc in docs], np.array([doc[1] for doc in docs]),
                     np.array([doc[2] for doc in docs], dtype=bool),
                     np.array([len(doc[3]) for doc in docs], dtype=np.int64),
                     np.concatenate([doc[3] for doc in docs]))
        if (self.pending_postings > max(250_000, len(self.base_slots) // 2)
                or self.dead_postings > max(250_000, len(self.base_slots) // 3)
                or self.dirty_people > max(2_000, len(self.person_docs) // 10)):
            self.compact()

    def load(self, keys: list[str], owners: Sequence[int], answers: Sequence[bool],
             stored: list[bytes]) -> None:
        """Fill an empty table with documents as stored (evidence_terms.terms, POSTING)."""
        lengths = np.fromiter(map(len, stored), dtype=np.int64, count=len(stored))
        self._append(keys, np.asarray(owners, dtype=np.int64), np.asarray(answers, dtype=bool),
                     lengths // POSTING.itemsize,
                     np.frombuffer(b"".join(stored), dtype=POSTING))
        self.compact()

    def _append(self, keys: list[str], owners: np.ndarray, answers: np.ndarray,
                lengths: np.ndarray, postings: np.ndarray) -> None:
        """New slots for documents not here, with their postings end to end."""
        first = len(self.keys)
        end = first + len(keys)
        if end == first:
            return
        for name in ("owner", "answer", "size", "alive", "postings_of"):
            setattr(self, name, self._grow(getattr(self, name), end))
        for name in ("person_size", "person_docs", "dirty"):
            setattr(self, name, self._grow(getattr(self, name), int(owners.max()) + 1))
        counts = postings["counts"]
        slots = np.repeat(np.arange(first, end, dtype=np.int32), lengths)
        sizes = np.bincount(slots - first, weights=counts.sum(axis=1, dtype=np.int64),
                            minlength=len(keys)).astype(np.int64)
        self.keys.extend(keys)
        self.slot_of.update(zip(keys, range(first, end)))
        self.owner[first:end], self.answer[first:end], self.size[first:end] = (
            owners, answers, sizes)
        self.alive[first:end] = True
        self.postings_of[first:end] = lengths
        self.rows += len(keys)
        self.tokens += int(sizes.sum())
        self._count_answers(owners[answers], sizes[answers], +1)
        terms = postings["term"].astype(np.int64)
        order = np.argsort(terms, kind="stable")  # by term, then slot
        counts = counts[order]
        self.pending.append((terms[order], slots[order], counts, self._freq(counts)))
        self.pending_postings += len(terms)
        if len(self.pending) > 16:  # one chunk for all, still sorted by term then slot
            merged = [np.concatenate(part) for part in zip(*self.pending)]
            order = np.argsort(merged[0], kind="stable")
            self.pending = [tuple(part[order] for part in merged)]
        self.version += 1

    def _count_answers(self, owners: np.ndarray, sizes: np.ndarray, sign: int) -> None:
        """Answers added (+1) or taken away (-1): their people's profile documents change."""
        if not len(owners):
            return
        changed = np.unique(owners)
        before = int(np.count_nonzero(self.person_docs[changed]))
        np.add.at(self.person_docs, owners, sign)
        np.add.at(self.person_size, owners, sign * sizes)
        self.people_tokens += sign * int(sizes.sum())
        self.people_rows += int(np.count_nonzero(self.person_docs[changed])) - before
        self.dirty[changed] = True
        self.dirty_people = int(np.count_nonzero(self.dirty))

    def remove(self, doc_id: str) -> None:
        slot = self.slot_of.pop(doc_id, None)
        if slot is None:
            return
        self.alive[slot] = False
        self.keys[slot] = None
        self.rows -= 1
        self.tokens -= int(self.size[slot])
        self.dead_postings += int(self.postings_of[slot])
        if self.answer[slot]:
            self._count_answers(self.owner[slot:slot + 1], self.size[slot:slot + 1], -1)
        self.version += 1

    def _freq(self, counts: np.ndarray) -> np.ndarray:
        """FTS5 adds a column's weight for each instance of a term: with integer weights,
        exactly the counts times the weights, summed (kept as float32: exact too)."""
        freq = counts[:, 0] * self.weights[0]
        for column in range(1, self.columns):
            freq = freq + counts[:, column] * self.weights[column]
        return freq.astype(np.float32)

    def compact(self) -> None:
        """Live postings in one part sorted by term; live slots renumbered from 0; the sums
        per term and person made afresh."""
        used = len(self.keys)
        base_terms = np.repeat(np.arange(len(self.ptr) - 1, dtype=np.int64), np.diff(self.ptr))
        parts = [(base_terms, self.base_slots, self.base_counts, self.base_freq), *self.pending]
        parts = [part for part in parts if len(part[0])]
        if parts:
            terms, slots, counts, freq = (np.concatenate(p) if len(parts) > 1 else p[0]
                                          for p in zip(*parts))
        else:
            terms, slots = np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int32)
            counts = np.zeros((0, self.columns), dtype=np.uint16)
            freq = np.zeros(0, dtype=np.float32)
        alive = self.alive[:used]
        keep = alive[slots]
        if not keep.all():
            terms, slots, counts, freq = terms[keep], slots[keep], counts[keep], freq[keep]
        renumber = (np.cumsum(alive) - 1).astype(np.int32)
        slots = renumber[slots]
        if len(parts) > 1:  # each part is sorted by term then slot, and parts by slot
            order = np.argsort(terms, kind="stable")
            terms, slots, counts, freq = terms[order], slots[order], counts[order], freq[order]
        live = np.flatnonzero(alive)
        self.keys = [self.keys[i] for i in live.tolist()]
        self.slot_of = {key: slot for slot, key in enumerate(self.keys)}
        for name in ("owner", "answer", "size", "alive", "postings_of"):
            setattr(self, name, getattr(self, name)[live].copy())
        term_count = int(terms.max()) + 1 if len(terms) else 0
        self.ptr = np.concatenate(([0], np.cumsum(np.bincount(terms, minlength=term_count))))
        self.base_slots, self.base_counts, self.base_freq = slots, counts, freq
        self.pending, self.pending_postings, self.dead_postings = [], 0, 0
        # Sums per (term, person) over answers.
        answers = self.answer[slots]
        people = len(self.person_docs)
        keys = terms[answers] * max(people, 1) + self.owner[slots[answers]]
        order = np.argsort(keys, kind="stable")
        keys, summed = keys[order], counts[answers][order].astype(np.uint32)
        starts = np.flatnonzero(np.concatenate(([True], keys[1:] != keys[:-1]))) if len(
            keys) else np.zeros(0, dtype=np.int64)
        self.person_counts = (np.add.reduceat(summed, starts, axis=0) if len(starts)
                              else np.zeros((0, self.columns), dtype=np.uint32))
        self.person_codes = (keys[starts] % max(people, 1)).astype(np.int32)
        self.person_ptr = np.concatenate(([0], np.cumsum(np.bincount(
            keys[starts] // max(people, 1), minlength=term_count))))
        self.dirty[:] = False
        self.dirty_people = 0
        self.version += 1

    def postings(self, term: int | None) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The live documents holding `term`, in parts: (slots ascending, counts per column,
        weighted frequency); no slot is in two parts."""
        parts = []
        if term is None:
            return parts
        if term < len(self.ptr) - 1:
            start, stop = self.ptr[term], self.ptr[term + 1]
            if stop > start:
                parts.append((self.base_slots[start:stop], self.base_counts[start:stop],
                              self.base_freq[start:stop]))
        for terms, slots, counts, freq in self.pending:
            start, stop = np.searchsorted(terms, [term, term + 1])
            if stop > start:
                parts.append((slots[start:stop], counts[start:stop], freq[start:stop]))
        if self.dead_postings:
            for i, (slots, counts, freq) in enumerate(parts):
                live = self.alive[slots]
                if not live.all():
                    parts[i] = (slots[live], counts[live], freq[live])
        return [part for part in parts if len(part[0])]

    def _person_postings(self, term: int | None) -> list[tuple[np.ndarray, np.ndarray]]:
        """The people whose answers hold `term`, in parts: (codes ascending, its count per
        column in their answers, summed); no person is in two parts."""
        if term is None:
            return []
        codes = np.zeros(0, dtype=np.int32)
        counts = np.zeros((0, self.columns), dtype=np.uint32)
        if term < len(self.person_ptr) - 1:
            start, stop = self.person_ptr[term], self.person_ptr[term + 1]
            codes, counts = self.person_codes[start:stop], self.person_counts[start:stop]
        if not self.dirty_people:
            return [(codes, counts)] if len(codes) else []
        clean = ~self.dirty[codes]
        parts = [(codes[clean], counts[clean])]
        dirty_slots = self._cached("dirty slots", lambda: np.flatnonzero(
            self.alive & self.answer & self.dirty[self.owner]))
        held_slots, held_counts = [], []
        for slots, slot_counts, _ in self.postings(term):
            at = np.minimum(np.searchsorted(slots, dirty_slots), len(slots) - 1)
            held = slots[at] == dirty_slots
            held_slots.append(dirty_slots[held])
            held_counts.append(slot_counts[at[held]])
        if held_slots and sum(map(len, held_slots)):
            owners = self.owner[np.concatenate(held_slots)]
            dirty_codes, which = np.unique(owners, return_inverse=True)
            summed = np.zeros((len(dirty_codes), self.columns), dtype=np.uint32)
            np.add.at(summed, which, np.concatenate(held_counts).astype(np.uint32))
            parts.append((dirty_codes.astype(np.int32), summed))
        return [part for part in parts if len(part[0])]

    def _cached(self, name: str, make):
        hit = self._cache.get(name)
        if hit is None or hit[0] != self.version:
            hit = self._cache[name] = (self.version, make())
        return hit[1]

    @staticmethod
    def _idf(rows: int, hits: int) -> float:
        """fts5_aux.c: log((N - nHit + 0.5) / (nHit + 0.5)), where not positive 1e-6."""
        idf = math.log((rows - hits + 0.5) / (hits + 0.5))
        return idf if idf > 0.0 else 1e-6

    @staticmethod
    def _length_norm(size: np.ndarray, avgdl: float) -> np.ndarray:
        """fts5_aux.c's k1 * (1 - b + b * D / avgdl) (k1 = 1.2, b = 0.75)."""
        return BM25_K1 * (1 - BM25_B + BM25_B * size.astype(np.float64) / avgdl)

    @staticmethod
    def _term_score(idf: float, values: np.ndarray, weight: float,
                    norm: np.ndarray) -> np.ndarray:
        """One phrase's part of bm25() in one column, as fts5_aux.c computes it:
        idf * ((f * (k1 + 1)) / (f + norm)), f the term's count there times the column's
        weight (a double; in place, the same operations)."""
        freq = values.astype(np.float64)
        if weight != 1.0:
            freq *= weight
        score = freq * (BM25_K1 + 1.0)
        freq += norm
        score /= freq
        score *= idf
        return score

    def best_documents(self, terms: Sequence[int | None], k: int,
                       excluded: Sequence[int], key) -> list[tuple[int, float]]:
        """The `k` best documents (slot, score) by bm25(evidence_fts, *weights) negated
        (higher is better) for the phrases `terms` (one term each, None: in no document),
        people `excluded` left out, ties by key(slot)."""
        if self.rows <= 0 or k <= 0:
            return []
        norm = self._cached("document norms", lambda: self._length_norm(
            self.size, float(self.tokens) / float(self.rows)))
        phrases = self._with_idf(self.rows, (
            [(slots, freq[:, None], (1.0,)) for slots, _, freq in self.postings(term)]
            for term in terms))
        return self._rank(phrases, 1, len(self.keys), norm, self.owner, k, excluded, key)

    def best_people(self, terms: Sequence[int | None], k: int, excluded: Sequence[int],
                    key) -> list[tuple[int, float]]:
        """The `k` best people (code, score) by PROFILE_SCORE negated (higher is better):
        one bm25(person_fts) per column, weighing only that column (the others add 0.0),
        added in order."""
        if self.people_rows <= 0 or k <= 0:
            return []
        norm = self._cached("person norms", lambda: self._length_norm(
            self.person_size, float(self.people_tokens) / float(self.people_rows)))
        phrases = self._with_idf(self.people_rows, (
            [(codes, counts, self.weights) for codes, counts in self._person_postings(term)]
            for term in terms))
        return self._rank(phrases, self.columns, len(self.person_docs), norm, None, k,
                          excluded, key)

    def _with_idf(self, rows: int, parts_per_phrase) -> list:
        """Each phrase's parts (as _rank takes them) with its idf over `rows` (0.0 where it
        is in no row)."""
        phrases = []
        for parts in parts_per_phrase:
            hits = sum(len(part[0]) for part in parts)
            phrases.append((self._idf(rows, hits) if hits else 0.0, parts))
        return phrases

    def _rank(self, phrases, columns: int, entities: int, norm: np.ndarray, owner, k: int,
              excluded: Sequence[int], key) -> list[tuple[int, float]]:
        """The `k` best entities (documents or people) for `phrases`, each (idf, parts of
        (entity ids ascending, values per column, weight per column)): per column, the sum
        in phrase order of idf * tf-part, as fts5_aux.c adds them; the columns added in
        order. Exact: a phrase in more than half of the rows has idf 1e-6 and adds at most
        1e-6 * (k1 + 1) per column, so the best are first found without such phrases
        (they are most of the postings of a query), then scored with all of them."""

        def owned(ids: np.ndarray) -> np.ndarray:
            return ids if owner is None else owner[ids]

        def accumulate(selected) -> np.ndarray:
            sums = np.zeros((columns, entities))
            for idf, parts in selected:
                for ids, values, weights in parts:
                    entity_norm = norm[ids]
                    for column in range(columns):
                        if columns > 1 and not values[:, column].any():
                            continue  # would add 0.0 everywhere
                        sums[column][ids] += self._term_score(
                            idf, values[:, column], weights[column], entity_norm)
            total = sums[0]
            for column in range(1, columns):
                total = total + sums[column]
            return total

        def eligible(candidates: np.ndarray) -> np.ndarray:
            if len(excluded) and len(candidates):
                candidates = candidates[~np.isin(owned(candidates), excluded)]
            return candidates

        common = [p for p in phrases if p[0] == 1e-6 and p[1]]
        if common:
            partial = accumulate([p for p in phrases if p[0] != 1e-6])
            candidates = eligible(np.flatnonzero(partial > 0))
            if len(candidates) >= k:
                kth = np.partition(partial[candidates], len(candidates) - k)[
                    len(candidates) - k]
                bound = len(common) * columns * 1e-6 * (BM25_K1 + 1.0)
                floor = kth - bound - 1e-9 * (1.0 + abs(kth))  # and room for rounding
                if floor > 0:
                    candidates = candidates[partial[candidates] >= floor]
                    sums = np.zeros((columns, len(candidates)))
                    for idf, parts in phrases:
                        for ids, values, weights in parts:
                            at = np.minimum(np.searchsorted(ids, candidates), len(ids) - 1)
                            held = ids[at] == candidates
                            at = at[held]
                            entity_norm = norm[candidates[held]]
                            for column in range(columns):
                                sums[column][held] += self._term_score(
                                    idf, values[at, column], weights[column], entity_norm)
                    total = sums[0]
                    for column in range(1, columns):
                        total = total + sums[column]
                    self.last_plan = "pruned"
                    return _best(candidates, total, k, key)
        self.last_plan = "full"
        total = accumulate(phrases)
        candidates = eligible(np.flatnonzero(total > 0))  # a match adds at least 1e-6 * ...
        return _best(candidates, total[candidates], k, key)


def _best(candidates: np.ndarray, scores: np.ndarray, k: int, key) -> list[tuple[int, float]]:
    """The `k` best (candidate, score) by score, then by key(candidate) (SQL's ORDER BY
    rank, id)."""
    if not len(candidates) or k <= 0:
        return []
    if len(candidates) > k:
        kth = np.partition(scores, len(scores) - k)[len(scores) - k]
        near = scores >= kth
        candidates, scores = candidates[near], scores[near]
    ordered = sorted(zip(candidates.tolist(), scores.tolist()),
                     key=lambda item: (-item[1], key(item[0])))
    return ordered[:k]


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
        self._person_ids: list[str] = []
        # BM25 in memory: evidence_fts's token counts (None: FTS5 answers itself).
        self._terms: TermTable | None = None
        self._vocab: dict[str, int] | None = None  # evidence_vocab, term -> number
        self._profiles: dict[str, list] = {}  # person_profile rows being written
        self._new_terms: list[str] = []  # evidence_vocab rows being written
        self._activity: dict[str, float] = {}  # person_activity
        # person_tags by tag: (person codes ascending, weights). All read on loading; a write
        # drops the columns of the tags it counted answers on, read again on their next use.
        self._tag_columns: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        self._tags_counted: set[str] = set()  # by the write under way
        self._tags_cache: dict[str, tuple[str, ...]] = {}  # evidence.tags, parsed
        self._tokenizer = Tokenizer(db, FTS5_TOKENIZE)
        self._tag_fields: dict[str, str] = {}
        with db.lock:
            db.conn.create_function("relais_tags_field", 1, self._tags_field, deterministic=True)
        self._in_memory_bm25 = self._fts_tables_as_expected()
        self.set_aside = self._set_aside_other_widths()
        self._backfill_people()
        self._count_terms()

    def _set_aside_other_widths(self) -> int:
        """Vectors of another width were made by another model (RELAIS_EMBEDDING_MODEL
        changed) and cannot be compared with this one's. They are set aside, with the topics
        vectors summed from them: the documents stay and are found by their words until
        `python -m indexer reindex` embeds them again. The number of vectors set aside.
        index_meta keeps the width, so an index opened by the same model reads one row."""
        meta = dict(self.db.tuples("SELECT key, value FROM index_meta"))
        if meta.get("dimensions") == self.dimensions:
            return 0
        width = self.dimensions * np.dtype(np.float32).itemsize
        with self.db.transaction() as conn:
            other = 0
            if meta.get("dimensions") is not None or conn.execute(  # else: before the key
                    "SELECT 1 FROM evidence WHERE vector IS NOT NULL AND length(vector) != ?"
                    " LIMIT 1", (width,)).fetchone():
                other = conn.execute("UPDATE evidence SET vector = NULL WHERE vector IS NOT"
                                     " NULL AND length(vector) != ?", (width,)).rowcount
                conn.execute("UPDATE person_profile SET topics = ? WHERE length(topics) != ?",
                             (np.zeros(self.dimensions).tobytes(),
                              self.dimensions * np.dtype(np.float64).itemsize))
                if other:
                    self._bump(conn)  # another process's matrices are out of date
            conn.execute("INSERT OR REPLACE INTO index_meta VALUES ('dimensions', ?)",
                         (self.dimensions,))
        if other:
            log.warning("%d vectors of another model's width set aside (this model's are %d "
                        "wide): run `python -m indexer reindex` to embed them again", other,
                        self.dimensions)
        return other

    def _fts_tables_as_expected(self) -> bool:
        """BM25 is scored in memory only where that gives FTS5's own values: both FTS5 tables
        as SCHEMA creates them (an index from another version answers from FTS5 itself), and
        column weights whose running sums are exact."""
        expected = re.sub(r"\s+", "", f"fts5(text, tags, answer, tokenize = '{FTS5_TOKENIZE}')")
        for table in ("evidence_fts", "person_fts"):
            rows = self.db.query("SELECT sql FROM sqlite_master WHERE name = ?", (table,))
            found = re.sub(r"\s+", "", rows[0]["sql"] if rows else "")
            if not found.endswith("USING" + expected):
                return False
        return all(float(w).is_integer() and 0 <= w < 2 ** 20 for w in BM25_WEIGHTS)

    # Writes ------------------------------------------------------------------------------
    def upsert(self, docs: Sequence[EvidenceDoc]) -> None:
        if docs:
            self._write(self._upsert, docs)

    def _write(self, write, *args) -> None:
        """One write transaction, then (if memory was up to date with the tables just before)
        the same change in memory, still under the index's lock."""
        with self._lock:
            self._new_terms = []
            try:
                with self.db.transaction() as conn:
                    generation, in_memory = write(conn, *args)
            except BaseException:  # rolled back: so are the terms it numbered
                for term in self._new_terms:
                    self._vocab.pop(term, None)
                self._profiles = {}
                raise
            if self._generation == generation - 1:
                try:
                    in_memory()
                    self._generation = generation
                except BaseException:
                    self._generation = -1  # loaded afresh by the next query
                    raise

    def _upsert(self, conn, docs: Sequence[EvidenceDoc]):
        touched: set[str] = set()
        written: dict[str, tuple[int, EvidenceDoc, str]] = {}  # a document twice: the last
        ids = list({doc.id: None for doc in docs})
        existing: dict[str, tuple[int, str]] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            existing.update((doc_id, (rid, person)) for doc_id, rid, person in conn.execute(
                f"SELECT doc_id, rid, person_id FROM evidence WHERE doc_id IN"
                f" ({','.join('?' * len(chunk))})", chunk))
        for doc in docs:
            vector = None
            if doc.vector is not None:
                vector = np.asarray(doc.vector, dtype=np.float32).tobytes()
            tags = dumps(doc.tags)
            values = (doc.person_id, doc.kind, doc.question_id, int(doc.accepted),
                      int(doc.score), doc.created_at, tags, doc.text, doc.answer, vector)
            row = existing.get(doc.id)
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
            existing[doc.id] = (rid, doc.person_id)
            field = tags_field(doc.tags)
            conn.execute("INSERT INTO evidence_fts (rowid, text, tags, answer)"
                         " VALUES (?, ?, ?, ?)", (rid, doc.text, field, doc.answer))
            self._count(conn, rid, +1, (doc.person_id, doc.kind, doc.created_at, tags,
                                        vector))
            if doc.kind == "answer":
                touched.add(doc.person_id)
            written.pop(doc.id, None)
            written[doc.id] = (rid, doc, field)
        postings = self._store_terms(conn, [
            (rid, (doc.text, field, doc.answer)) for rid, doc, field in written.values()
        ]) if self._in_memory_bm25 else []
        topics = self._rebuild_people(conn, touched)

        def in_memory():
            for doc in docs:
                self._docs.set(doc.id, self._code(doc.person_id), doc.vector)
            if self._terms is not None:
                if any(p.dtype != POSTING for p in postings):
                    self._terms = None
                else:
                    self._terms.add([
                        (doc.id, self._code(doc.person_id), doc.kind == "answer", p)
                        for (_, doc, _), p in zip(written.values(), postings)])
            self._set_topics(topics)
            self._reload_activity(touched)
            self._drop_tag_columns()
        return self._bump(conn), in_memory

    def _tags_field(self, tags: str) -> str:
        """evidence_fts's tags field for evidence.tags (JSON), as SQL function
        relais_tags_field (tag sets repeat: each is worked out once)."""
        field = self._tag_fields.get(tags)
        if field is None:
            if len(self._tag_fields) > 100_000:
                self._tag_fields.clear()
            field = self._tag_fields[tags] = tags_field(json.loads(tags))
        return field

    def _reload_activity(self, people: set[str]) -> None:
        """person_activity's rows of `people`, after a write, into memory."""
        people = list(people)
        for start in range(0, len(people), 500):
            chunk = people[start:start + 500]
            for person in chunk:
                self._activity.pop(person, None)
            self._activity.update(self.db.tuples(
                f"SELECT person_id, weight FROM person_activity WHERE person_id IN"
                f" ({','.join('?' * len(chunk))})", chunk))

    def _store_terms(self, conn, rows: list[tuple[int, tuple[str, str, str]]]) -> list:
        """Count the tokens of documents (rowid, FTS5 column values) and store them in
        evidence_terms; their POSTING (or WIDE_POSTING) arrays."""
        split = [[value.split() for value in values] for _, values in rows]
        chunks = set(chain.from_iterable(chain.from_iterable(split)))
        tokens = self._tokenizer.chunks(chunks)
        vocab = self._vocabulary(conn, set(chain.from_iterable(map(tokens.__getitem__,
                                                                   chunks))))
        numbers = {chunk: [vocab[term] for term in tokens[chunk]] for chunk in chunks}.__getitem__
        terms: list[int] = []
        lengths: list[int] = []  # tokens per document and column
        for row in split:
            for column in row:
                before = len(terms)
                terms.extend(chain.from_iterable(map(numbers, column)))
                lengths.append(len(terms) - before)
        # One entry per (document, term), with its count in each column.
        cell = np.repeat(np.arange(len(lengths), dtype=np.int64), lengths)
        keys = (cell // 3) << 32 | np.array(terms, dtype=np.int64)
        unique, which = np.unique(keys, return_inverse=True)
        per_column = np.bincount(which * 3 + cell % 3, minlength=3 * len(unique)).reshape(-1, 3)
        wide_docs = set((unique[(per_column > 0xFFFF).any(axis=1)] >> 32).tolist())
        entries = np.zeros(len(unique), dtype=POSTING)
        entries["term"] = unique & 0xFFFFFFFF
        entries["counts"] = np.minimum(per_column, 0xFFFF)
        bounds = np.searchsorted(unique >> 32, np.arange(len(rows) + 1))
        postings, stored = [], []
        for doc, (rid, _) in enumerate(rows):
            start, stop = bounds[doc], bounds[doc + 1]
            if doc in wide_docs:
                array = np.zeros(stop - start, dtype=WIDE_POSTING)
                array["term"] = entries["term"][start:stop]
                array["counts"] = per_column[start:stop]
            else:
                array = entries[start:stop]
            postings.append(array)
            stored.append((rid, int(doc in wide_docs), array.tobytes()))
        conn.executemany("INSERT OR REPLACE INTO evidence_terms (rid, wide, terms)"
                         " VALUES (?, ?, ?)", stored)
        return postings

    def _vocabulary(self, conn, terms: set[str]) -> dict[str, int]:
        """evidence_vocab's numbers of `terms`, new ones added (in a write transaction)."""
        if self._vocab is None:
            self._vocab = dict(conn.execute("SELECT term, id FROM evidence_vocab").fetchall())
        missing = sorted(t for t in terms if t not in self._vocab)
        for start in range(0, len(missing), 500):  # another process may have added them
            part = missing[start:start + 500]
            self._vocab.update(conn.execute(
                f"SELECT term, id FROM evidence_vocab WHERE term IN ({','.join('?' * len(part))})",
                part).fetchall())
        for term in missing:
            if term not in self._vocab:
                self._vocab[term] = conn.execute(
                    "INSERT INTO evidence_vocab (term) VALUES (?)", (term,)).lastrowid
                self._new_terms.append(term)
        return self._vocab

    def _count_terms(self) -> None:
        """Count every document's tokens again when the stored counts are not known to match
        the documents (an index from before, or written meanwhile by such a version)."""
        if not self._in_memory_bm25:
            return
        meta = dict(self.db.tuples("SELECT key, value FROM index_meta"))
        if meta.get("counted") == meta["generation"]:
            return
        with self.db.transaction() as conn:
            conn.execute("DELETE FROM evidence_terms")
        last = -1
        while True:
            self._new_terms = []
            try:
                with self.db.transaction() as conn:
                    rows = conn.execute(
                        "SELECT e.rid, f.text, f.tags, f.answer FROM evidence e"
                        " JOIN evidence_fts f ON f.rowid = e.rid WHERE e.rid > ?"
                        " ORDER BY e.rid LIMIT 4096", (last,)).fetchall()
                    if rows:
                        self._store_terms(conn, [(r[0], tuple(r[1:])) for r in rows])
                    else:  # what was there when counting began is counted
                        conn.execute("INSERT OR REPLACE INTO index_meta VALUES ('counted', ?)",
                                     (meta["generation"],))
            except BaseException:
                for term in self._new_terms:
                    self._vocab.pop(term, None)
                raise
            if not rows:
                break
            last = rows[-1][0]

    def _count(self, conn, rid: int, sign: int, row: tuple | None = None) -> None:
        """Add (or take back) an answer's weight to its author's activity, tag expertise and
        topics vector. `row`: the document's (person_id, kind, created_at, tags, vector) as
        just written, else read."""
        if row is None:
            row = conn.execute("SELECT person_id, kind, created_at, tags, vector FROM evidence"
                               " WHERE rid = ?", (rid,)).fetchone()
        if row is None or row[1] != "answer":
            return
        person, _, created_at, tags, vector = row
        days = days_since_epoch(created_at)
        weight = sign * 2.0 ** (days / self.half_life_days)
        conn.execute("INSERT INTO person_activity VALUES (?, ?) ON CONFLICT(person_id)"
                     " DO UPDATE SET weight = max(0, weight + excluded.weight)",
                     (person, sign * 2.0 ** (days / self.activity_half_life_days)))
        answer_tags = set(json.loads(tags))
        self._tags_counted.update(answer_tags)
        conn.executemany("INSERT INTO person_tags VALUES (?, ?, ?) ON CONFLICT(person_id, tag)"
                         " DO UPDATE SET weight = max(0, weight + excluded.weight)",
                         [(person, tag, weight) for tag in answer_tags])
        self._add_to_profile(conn, person, sign, weight, vector)
        if sign < 0:  # what is left of a last answer is rounding, not expertise
            conn.execute("DELETE FROM person_activity WHERE person_id = ? AND weight < 1e-9",
                         (person,))
            conn.execute("DELETE FROM person_tags WHERE person_id = ? AND weight < 1e-9",
                         (person,))

    def _add_to_profile(self, conn, person: str, sign: int, weight: float, vector) -> None:
        """Count one answer more (or less) in the person's profile and topics vector (kept
        until _rebuild_people writes them: a person with several answers in one write is
        read and written once, with the same sums)."""
        entry = self._profiles.get(person)
        if entry is None:
            profile = conn.execute("SELECT answers, topics FROM person_profile"
                                   " WHERE person_id = ?", (person,)).fetchone()
            entry = self._profiles[person] = [
                profile["answers"] if profile else 0,
                np.zeros(self.dimensions) if profile is None else np.frombuffer(
                    profile["topics"], dtype=np.float64)]
        entry[0] += sign
        if vector is not None:
            entry[1] = entry[1] + weight * np.frombuffer(vector, dtype=np.float32)

    def _write_profiles(self, conn) -> None:
        """Write the profiles _add_to_profile changed (in the order it first met them, as
        each answer's own write would have added new ones)."""
        conn.executemany(
            "INSERT INTO person_profile (person_id, answers, topics) VALUES (?, ?, ?)"
            " ON CONFLICT(person_id) DO UPDATE SET answers = excluded.answers,"
            " topics = excluded.topics",
            [(person, answers, topics.tobytes())
             for person, (answers, topics) in self._profiles.items()])
        self._profiles = {}

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
        self._write_profiles(conn)
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
            # The texts evidence_fts holds for their answers (text, tags_field(tags), answer),
            # read from evidence (quicker than from FTS5), concatenated by SQLite.
            conn.execute(
                "INSERT INTO person_fts (rowid, text, tags, answer)"
                " SELECT ?, group_concat(text, char(10)), group_concat(relais_tags_field(tags),"
                " ' '), group_concat(answer, char(10)) FROM (SELECT text, tags, answer"
                " FROM evidence WHERE person_id = ? AND kind = 'answer' ORDER BY rid)",
                (profile["rid"], person))
            topics[person] = unit(np.frombuffer(profile["topics"], dtype=np.float64))
        return topics

    def delete(self, doc_ids: Sequence[str]) -> None:
        if doc_ids:
            self._write(self._delete, doc_ids)

    def _delete(self, conn, doc_ids: Sequence[str]):
        touched: set[str] = set()
        for doc_id in doc_ids:
            row = conn.execute("SELECT rid, person_id, kind FROM evidence WHERE doc_id = ?",
                               (doc_id,)).fetchone()
            if row:
                self._count(conn, row[0], -1)
                conn.execute("DELETE FROM evidence_fts WHERE rowid = ?", (row[0],))
                conn.execute("DELETE FROM evidence_terms WHERE rid = ?", (row[0],))
                conn.execute("DELETE FROM evidence WHERE rid = ?", (row[0],))
                if row[2] == "answer":
                    touched.add(row[1])
        topics = self._rebuild_people(conn, touched)

        def in_memory():
            for doc_id in doc_ids:
                self._docs.remove(doc_id)
                if self._terms is not None:
                    self._terms.remove(doc_id)
            self._set_topics(topics)
            self._reload_activity(touched)
            self._drop_tag_columns()
        return self._bump(conn), in_memory

    def person_doc_ids(self, person_id: str) -> set[str]:
        return {r["doc_id"] for r in self.db.query(
            "SELECT doc_id FROM evidence WHERE person_id = ?", (person_id,))}

    def delete_person(self, person_id: str) -> None:
        self.delete(sorted(self.person_doc_ids(person_id)))

    def doc_ids(self) -> set[str]:
        return {r["doc_id"] for r in self.db.query("SELECT doc_id FROM evidence")}

    @staticmethod
    def _bump(conn) -> int:
        conn.execute("UPDATE index_meta SET value = value + 1"
                     " WHERE key IN ('generation', 'counted')")
        return conn.execute("SELECT value FROM index_meta WHERE key = 'generation'").fetchone()[0]

    # The in-memory matrices --------------------------------------------------------------
    def _code(self, person_id: str) -> int:
        code = self._person_code.get(person_id)
        if code is None:
            code = self._person_code[person_id] = len(self._person_ids)
            self._person_ids.append(person_id)
        return code

    def _set_topics(self, topics: dict[str, np.ndarray | None]) -> None:
        for person, vector in topics.items():
            self._people.set(person, self._code(person), vector)

    def _excluded_codes(self, people: Iterable[str]) -> list[int]:
        return [self._person_code[p] for p in people if p in self._person_code]

    def _refresh(self) -> None:
        """Reload what is in memory when another process (a reindex) changed the tables."""
        generation = self.db.query(
            "SELECT value FROM index_meta WHERE key = 'generation'")[0]["value"]
        if generation == self._generation:
            return
        self._count_terms()
        self._vocab = dict(self.db.tuples("SELECT term, id FROM evidence_vocab"))
        self._activity = dict(self.db.tuples("SELECT person_id, weight FROM person_activity"))
        self._load_tag_columns()
        keys, owners, answers, postings = [], [], [], []
        counted = self._in_memory_bm25

        def documents():
            nonlocal counted
            last = -1
            while True:
                rows = self.db.query(
                    "SELECT e.rid, e.doc_id, e.person_id, e.kind, e.vector, t.wide, t.terms"
                    " FROM evidence e LEFT JOIN evidence_terms t ON t.rid = e.rid"
                    " WHERE e.rid > ? ORDER BY e.rid LIMIT 8192", (last,))
                if not rows:
                    return
                last = rows[-1][0]
                for _, doc_id, person_id, kind, vector, wide, terms in rows:
                    code = self._code(person_id)
                    if vector is not None:
                        yield doc_id, code, vector
                    if counted:
                        if terms is None or wide:  # written meanwhile, or counts past uint16
                            counted = False
                            continue
                        keys.append(doc_id)
                        owners.append(code)
                        answers.append(kind == "answer")
                        postings.append(terms)

        self._docs = VectorTable(self.dimensions)
        self._docs.load(documents())
        self._people = VectorTable(self.dimensions)
        for row in self.db.query("SELECT person_id, topics FROM person_profile"):
            self._people.set(row["person_id"], self._code(row["person_id"]),
                             unit(np.frombuffer(row["topics"], dtype=np.float64)))
        self._terms = None
        if counted:
            table = TermTable()
            table.load(keys, owners, answers, postings)
            self._terms = table
        self._generation = generation
        # What was just loaded lives until the next reload: moved out of the collector's way,
        # a full collection no longer walks it (at 10k people and more, a pause of 0.1-0.2 s
        # in the middle of a request). On a reload, what the last load froze goes back first
        # and garbage is collected before freezing again, so that nothing this reload dropped
        # in a reference cycle is kept (a first load skips the collection: it costs a walk of
        # everything, 0.2-0.3 s at 10k people).
        if gc.get_freeze_count():
            gc.unfreeze()
            gc.collect()
        gc.freeze()

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
        """The documents of `scored` (doc id, score), as _doc makes them (only faster: a
        routing loads 500)."""
        if not scored:
            return []
        marks = ",".join("?" * len(scored))
        rows = self.db.tuples(f"SELECT {DOC_COLUMNS} FROM evidence WHERE doc_id IN ({marks})",
                              [doc_id for doc_id, _ in scored])
        tags_of = self._tags_cache
        if len(tags_of) > 100_000:
            tags_of.clear()
        docs = {}
        for (doc_id, person_id, kind, question_id, accepted, score, created_at, tags, text,
             answer) in rows:
            parsed = tags_of.get(tags)
            if parsed is None:
                parsed = tags_of[tags] = tuple(json.loads(tags))
            doc = EvidenceDoc.__new__(EvidenceDoc)  # EvidenceDoc(...) with its fields' values
            doc.__dict__.update(id=doc_id, person_id=person_id, kind=kind, text=text,
                                tags=list(parsed), answer=answer, question_id=question_id,
                                accepted=bool(accepted), score=score, created_at=created_at,
                                vector=None)
            docs[doc_id] = doc
        return [Hit(docs[doc_id], score) for doc_id, score in scored if doc_id in docs]

    @staticmethod
    def _phrases(text: str, tags: Sequence[str]) -> list[str]:
        """The phrases of the FTS5 query, in order: the words of `text`, then `tags` as
        whole tokens."""
        return [*query_words(text), *(tag_token(t) for t in tags if tag_token(t) != "tag")]

    @classmethod
    def _expression(cls, text: str, tags: Sequence[str]) -> str:
        """The FTS5 query: any word of `text`, or any of `tags` as a whole token."""
        return " OR ".join('"' + phrase + '"' for phrase in cls._phrases(text, tags))

    def _phrase_terms(self, phrases: list[str]) -> list[int | None] | None:
        """Each phrase's term in the TermTable (None: in no document), or None when BM25
        must come from FTS5 itself: a phrase that is not exactly one token (FTS5 would
        match its tokens side by side), or counts the table cannot hold. Call under the
        lock, refreshed."""
        if self._terms is None or self._vocab is None:
            return None
        tokens = self._tokenizer.chunks(phrases)
        terms = []
        for phrase in phrases:
            if len(tokens[phrase]) != 1:
                return None
            terms.append(self._vocab.get(tokens[phrase][0]))
        return terms

    def bm25(self, text: str, k: int, exclude_people: Iterable[str] = (),
             tags: Sequence[str] = ()) -> list[Hit]:
        """BM25 over the documents, exactly as bm25(evidence_fts, BM25_WEIGHTS) ranks them
        (`_bm25_fts`), computed in memory from the same token counts: FTS5 computes bm25()
        for every matching row, and a common word matches most of them."""
        phrases = self._phrases(text, tags)
        if not phrases or k <= 0:
            return []
        excluded = list(dict.fromkeys(exclude_people))
        with self._lock:
            self._refresh()
            terms = self._phrase_terms(phrases)
            if terms is not None:
                keys = self._terms.keys
                scored = [(keys[slot], score) for slot, score in self._terms.best_documents(
                    terms, k, self._excluded_codes(excluded), keys.__getitem__)]
        if terms is not None:
            return self._load_docs(scored)
        return self._bm25_fts(self._expression(text, tags), k, excluded)

    def _bm25_fts(self, expression: str, k: int, excluded: list[str]) -> list[Hit]:
        """BM25 from FTS5 itself (the reference the in-memory scoring reproduces)."""
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
        with self._lock:
            self._refresh()
            columns = {tag: self._tag_column(tag) for tag in tags}
            sums = {tag: float(weights.sum()) for tag, (_, weights) in columns.items()}
            totals = {tag: total for tag, total in sums.items() if total > 0}
            if not totals:
                return TagExpertise({}, {})
            # A person's strength on a tag is their weight over the square root of
            # everyone's (as matching reads it); summed over the tags.
            codes = np.concatenate([columns[tag][0] for tag in totals])
            strength = np.bincount(codes, np.concatenate(
                [columns[tag][1] / math.sqrt(total) for tag, total in totals.items()]),
                minlength=len(self._person_ids))
            candidates = np.unique(codes)
            codes_out = self._excluded_codes(excluded)
            if codes_out:
                candidates = candidates[~np.isin(candidates, codes_out)]
            best = np.array([code for code, _ in _best(
                candidates, strength[candidates], limit, self._person_ids.__getitem__)],
                dtype=np.int64)
            scale = self._scale(now, self.half_life_days)
            detail: dict[str, dict[str, float]] = {self._person_ids[c]: {} for c in best}
            for tag in tags:
                tag_codes, weights = columns[tag]
                if not len(tag_codes) or not len(best):
                    continue
                at = np.minimum(np.searchsorted(tag_codes, best), len(tag_codes) - 1)
                held = tag_codes[at] == best
                for code, weight in zip(best[held].tolist(), weights[at[held]].tolist()):
                    detail[self._person_ids[code]][tag] = weight * scale
        return TagExpertise(detail, {t: total * scale for t, total in totals.items()})

    def _load_tag_columns(self) -> None:
        """Every tag's column, from person_tags at once."""
        rows = self.db.tuples("SELECT tag, person_id, weight FROM person_tags ORDER BY tag")
        self._tag_columns, self._tags_counted = {}, set()
        start = 0
        for end in range(1, len(rows) + 1):
            if end == len(rows) or rows[end][0] != rows[start][0]:
                self._tag_columns[rows[start][0]] = self._column(rows[start:end])
                start = end

    def _drop_tag_columns(self) -> None:
        """After a write: the columns of the tags it counted answers on are stale."""
        for tag in self._tags_counted:
            self._tag_columns.pop(tag, None)
        self._tags_counted = set()

    def _column(self, rows: list[tuple]) -> tuple[np.ndarray, np.ndarray]:
        """(person codes ascending, weights) of person_tags rows (..., person_id, weight)."""
        codes = np.array([self._code(row[-2]) for row in rows], dtype=np.int64)
        weights = np.array([row[-1] for row in rows], dtype=np.float64)
        order = np.argsort(codes, kind="stable")
        return codes[order], weights[order]

    def _tag_column(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """person_tags' rows of `tag`: (person codes ascending, weights). Call under the
        lock, refreshed."""
        column = self._tag_columns.get(tag)
        if column is None:
            column = self._tag_columns[tag] = self._column(self.db.tuples(
                "SELECT person_id, weight FROM person_tags WHERE tag = ?", (tag,)))
        return column

    def activity(self, person_ids: Iterable[str], now: datetime, top: int,
                 exclude_people: Iterable[str] = ()) -> dict[str, float]:
        ids = list(dict.fromkeys(person_ids))
        excluded = list(dict.fromkeys(exclude_people))
        scale = self._scale(now, self.activity_half_life_days)
        found: dict[str, float] = {}
        with self._lock:
            self._refresh()
            weights = self._activity
            for start in range(0, len(ids), 500):  # as 500 at a time by id IN (...) came back
                for person in sorted(p for p in ids[start:start + 500] if p in weights):
                    found[person] = weights[person] * scale
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
        """The best people by their topics vector, and by their profile document: its
        PROFILE_SCORE as person_fts gives it (`_profiles_fts`), computed in memory from
        their answers' token counts (a profile document is their answers end to end)."""
        excluded = list(dict.fromkeys(exclude_people))
        phrases = self._phrases(text, tags)
        profile = None
        with self._lock:
            self._refresh()
            topics = {person: score for person, score in
                      self._people.top(vector, k, self._excluded_codes(excluded)) if score > 0}
            if not phrases or k <= 0:
                return PersonMatches({}, topics)
            terms = self._phrase_terms(phrases)
            if terms is not None:
                ids = self._person_ids
                profile = {ids[code]: score for code, score in self._terms.best_people(
                    terms, k, self._excluded_codes(excluded), ids.__getitem__)}
        if profile is None:
            profile = self._profiles_fts(self._expression(text, tags), k, excluded)
        return PersonMatches(profile, topics)

    def _profiles_fts(self, expression: str, k: int, excluded: list[str]) -> dict[str, float]:
        """PROFILE_SCORE from FTS5 itself (the reference the in-memory scoring reproduces)."""
        clause = f" AND p.person_id NOT IN ({','.join('?' * len(excluded))})" if excluded else ""
        rows = self.db.query(
            f"SELECT p.person_id AS person_id, {PROFILE_SCORE} AS rank FROM person_fts"
            f" JOIN person_profile p ON p.rid = person_fts.rowid"
            f" WHERE person_fts MATCH ?{clause} ORDER BY rank, p.person_id LIMIT ?",
            [expression, *excluded, k])
        return {r["person_id"]: -r["rank"] for r in rows}
