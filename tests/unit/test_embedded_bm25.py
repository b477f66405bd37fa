"""The embedded index scores BM25 in memory (TermTable) and must give exactly what FTS5's own
bm25() gives: the same documents and people, in the same order, with the same doubles."""
from __future__ import annotations

import random

import numpy as np
import pytest

from chalicelib.adapters.embedded_index import EmbeddedIndex, VectorTable
from chalicelib.adapters.sqlite_db import SQLiteDatabase
from chalicelib.ports import EvidenceDoc

# A Zipf-like vocabulary, plus a word in every answer and one in about half of them: words in
# more than half of the rows have FTS5's floor idf (1e-6), which the in-memory scoring
# leaves out to find the best, then adds back.
WORDS = [f"w{i}" for i in range(300)] + ["café", "étrangère", "naïve", "x²y", "configure",
                                         "configuring", "configuration"]
TAGS = ["kafka", "postgresql", "machine learning", "vat", "sécurité"]
PEOPLE = [f"p{i}" for i in range(40)]


def text(rng: random.Random, words: int) -> str:
    picked = rng.choices(WORDS, weights=[1 / (i + 1) for i in range(len(WORDS))], k=words)
    return " ".join(picked)


def corpus(seed: int = 1, answers: int = 300) -> list[EvidenceDoc]:
    rng = random.Random(seed)
    docs = []
    for number in range(answers):
        common = "involved" + (" often" if rng.random() < 0.55 else "")
        docs.append(EvidenceDoc(
            id=f"answer:{number}", person_id=rng.choice(PEOPLE), kind="answer",
            text=f"How {text(rng, rng.randint(3, 12))} when {common}?",
            answer=text(rng, rng.randint(0, 40)), tags=rng.sample(TAGS, rng.randint(0, 2)),
            question_id=f"q{number // 2}", vector=vector(rng)))
    for person in PEOPLE[:25]:
        skills = rng.sample(TAGS, 2)
        docs.append(EvidenceDoc(id=f"skills:{person}", person_id=person, kind="skills",
                                text="; ".join(skills), tags=skills, vector=vector(rng)))
    docs.append(EvidenceDoc(id="bio:p1", person_id="p1", kind="bio",
                            text="Comptable à Lyon, naïve café", vector=vector(rng)))
    return docs


def vector(rng: random.Random) -> np.ndarray:
    values = np.array([rng.gauss(0, 1) for _ in range(384)], dtype=np.float32)
    return values / np.linalg.norm(values)


def queries(seed: int = 2, count: int = 40) -> list[tuple[str, tuple[str, ...]]]:
    rng = random.Random(seed)
    found = [("involved", ()), ("often involved", ()), ("configure configuring", ()),
             ("café etrangere", ("sécurité",)), ("", ("kafka", "vat")), ("nothing matches", ())]
    for _ in range(count):
        found.append((text(rng, rng.randint(1, 8)) + rng.choice([" involved", " often", ""]),
                      tuple(rng.sample(TAGS, rng.randint(0, 2)))))
    return found


def assert_same_as_fts5(index: EmbeddedIndex, seed: int = 3) -> None:
    rng = random.Random(seed)
    for query, tags in queries():
        excluded = rng.sample(PEOPLE, rng.randint(0, 3))
        for k in (1, 7, 50, 1000):
            hits = [(h.doc.id, h.score) for h in index.bm25(query, k, excluded, tags)]
            expression = index._expression(query, tags)
            fts = [(h.doc.id, h.score) for h in index._bm25_fts(expression, k, excluded)] \
                if expression else []
            assert hits == fts, (query, tags, k)
            profile = index.people(query, np.zeros(384, np.float32), k, excluded, tags).profile
            expected = index._profiles_fts(expression, k, excluded) if expression else {}
            assert list(profile.items()) == list(expected.items()), (query, tags, k)


@pytest.fixture
def index(tmp_path):
    index = EmbeddedIndex(SQLiteDatabase(str(tmp_path / "index.db")))
    index.upsert(corpus())
    return index


def test_in_memory_bm25_is_fts5s(index):
    assert_same_as_fts5(index)
    assert index._terms is not None  # it was the in-memory scoring that answered


def test_the_floor_idf_words_are_left_out_then_added_back(index):
    plans = []
    index.bm25("w1", 1)  # loads what is kept in memory
    rank = index._terms._rank

    def spy(*args):
        found = rank(*args)
        plans.append(index._terms.last_plan)
        return found
    index._terms._rank = spy
    assert [h.doc.id for h in index.bm25("involved w20 w30", 5)] == [
        h.doc.id for h in index._bm25_fts('"involved" OR "w20" OR "w30"', 5, [])]
    assert "pruned" in plans


def test_writes_and_compaction_keep_it_exact(index):
    index.knn(np.ones(384, np.float32), 1)  # loaded: later writes update memory in place
    rng = random.Random(5)
    docs = corpus(seed=9, answers=120)
    for doc in docs[:60]:
        doc.id = f"answer:{rng.randrange(300)}"  # rewrites (some twice in one batch)
    index.upsert(docs)
    index.delete([f"answer:{n}" for n in rng.sample(range(300), 40)] + ["skills:p3"])
    index.delete_person("p7")
    assert index._terms.dirty_people and index._terms.pending
    assert_same_as_fts5(index)
    index._terms.compact()
    assert not index._terms.dirty_people and not index._terms.pending
    assert_same_as_fts5(index)


def test_another_process_loads_the_stored_counts(index, tmp_path):
    reader = EmbeddedIndex(SQLiteDatabase(str(tmp_path / "index.db")))
    assert_same_as_fts5(reader)
    index.upsert(corpus(seed=11, answers=30))
    assert_same_as_fts5(reader)  # a new generation: loaded again


def test_an_index_from_before_gets_its_counts(tmp_path):
    path = str(tmp_path / "old.db")
    EmbeddedIndex(SQLiteDatabase(path)).upsert(corpus())
    db = SQLiteDatabase(path)
    with db.transaction() as conn:  # as an index written by an earlier version
        conn.execute("DROP TABLE evidence_terms")
        conn.execute("DROP TABLE evidence_vocab")
        conn.execute("DELETE FROM index_meta WHERE key = 'counted'")
    reopened = EmbeddedIndex(SQLiteDatabase(path))
    counted = reopened.db.query("SELECT count(*) AS n FROM evidence_terms")[0]["n"]
    assert counted == len(corpus())
    assert_same_as_fts5(reopened)


def test_a_document_an_older_writer_changes_is_counted_again(index, tmp_path):
    index.knn(np.ones(384, np.float32), 1)
    stale = index.db.query("SELECT t.terms FROM evidence_terms t JOIN evidence e"
                           " ON e.rid = t.rid WHERE e.doc_id = 'answer:3'")[0]["terms"]
    with index.db.transaction() as conn:  # what an earlier version's upsert writes
        rid = conn.execute("SELECT rid FROM evidence WHERE doc_id = 'answer:3'").fetchone()[0]
        conn.execute("UPDATE evidence SET text = 'w1 w1 involved', answer = '' WHERE rid = ?",
                     (rid,))
        conn.execute("DELETE FROM evidence_fts WHERE rowid = ?", (rid,))
        conn.execute("INSERT INTO evidence_fts (rowid, text, tags, answer)"
                     " VALUES (?, 'w1 w1 involved', '', '')", (rid,))
        person = conn.execute("SELECT person_id FROM evidence WHERE rid = ?", (rid,)).fetchone()
        index._rebuild_people(conn, {person[0]})  # as every version does
        conn.execute("UPDATE index_meta SET value = value + 1 WHERE key = 'generation'")
    assert index.bm25("w1", 1)[0].doc.id == "answer:3"  # counted again on loading
    assert index.db.query("SELECT terms FROM evidence_terms WHERE rid = ?",
                          (rid,))[0]["terms"] != stale
    assert_same_as_fts5(index)


def test_a_word_fts5_splits_is_left_to_fts5(index):
    index.knn(np.ones(384, np.float32), 1)
    split = "x\u19b0y"  # a letter for Python, a separator for unicode61: a two-token phrase
    assert index._phrase_terms(index._phrases(split, ())) is None
    assert index._phrase_terms(index._phrases("x²y café", ())) is not None
    assert [h.doc.id for h in index.bm25(split, 10)] == [
        h.doc.id for h in index._bm25_fts(index._expression(split, ()), 10, [])]


def test_the_vector_table_scans_each_distinct_vector_once_and_ranks_as_before():
    rng = np.random.default_rng(0)
    distinct = rng.standard_normal((30, 8)).astype(np.float32)
    table, rows = VectorTable(8), {}
    for step in range(400):
        key = f"d{rng.integers(120)}"
        if rng.random() < 0.2:
            table.remove(key)
            rows.pop(key, None)
        else:
            vector = distinct[rng.integers(30)]
            owner = int(rng.integers(10))
            table.set(key, owner, vector)
            rows[key] = (owner, vector)
    assert table.distinct <= 30 and int(table.refs.sum()) == len(rows)
    loaded = VectorTable(8)
    loaded.load((key, owner, vector.tobytes()) for key, (owner, vector) in rows.items())
    query = rng.standard_normal(8).astype(np.float32)
    for k, excluded in ((5, []), (40, [1, 2]), (500, [3])):
        scores = {key: float(vector @ query) for key, (owner, vector) in rows.items()
                  if owner not in excluded}
        expected = sorted(scores, key=lambda key: (-scores[key], key))[:k]
        for candidate in (table, loaded):
            found = candidate.top(query, k, excluded)
            assert [key for key, _ in found] == expected
            assert [score for _, score in found] == pytest.approx(
                [scores[key] for key in expected], abs=1e-5)


def test_the_whitespace_list_is_what_split_splits_at():
    import sys

    from chalicelib.adapters.embedded_index import WHITESPACE
    assert WHITESPACE == "".join(chr(c) for c in range(sys.maxunicode + 1) if chr(c).isspace())


def test_counts_past_uint16_are_stored_wide_and_left_to_fts5(tmp_path):
    index = EmbeddedIndex(SQLiteDatabase(str(tmp_path / "wide.db")))
    index.upsert(corpus(answers=20) + [EvidenceDoc(
        id="answer:long", person_id="p1", kind="answer", text="w1 " * 70_000 + "involved",
        vector=vector(random.Random(1)))])
    wide = index.db.query("SELECT e.doc_id FROM evidence_terms t JOIN evidence e"
                          " ON e.rid = t.rid WHERE t.wide = 1")
    assert [r["doc_id"] for r in wide] == ["answer:long"]
    assert index.bm25("w1", 3)[0].doc.id == "answer:long"
    assert index._terms is None  # FTS5 answered
    assert_same_as_fts5(index)


def test_a_reload_hands_what_the_last_load_froze_back_to_the_collector(index, tmp_path):
    import gc
    import weakref

    class Cycle:
        pass

    garbage = Cycle()
    garbage.itself = garbage
    gone = weakref.ref(garbage)
    reader = EmbeddedIndex(SQLiteDatabase(str(tmp_path / "index.db")))
    reader.bm25("involved", 5)  # a load: everything alive now is frozen
    assert gc.get_freeze_count() > 0
    del garbage
    gc.collect()
    assert gone() is not None  # frozen: out of the collector's reach
    index.delete(["answer:0"])  # another process writes: the reader reloads
    reader.bm25("involved", 5)
    gc.collect()
    assert gone() is None


def test_a_process_that_loaded_the_index_exits_cleanly(tmp_path):
    """Frozen objects are handed back at exit: the model's extension objects are released,
    not reported as leaked on stderr when the server or a command stops."""
    import subprocess
    import sys
    from pathlib import Path

    script = (
        "from chalicelib.adapters.embedders import SentenceTransformerEmbedder\n"
        "from chalicelib.adapters.embedded_index import EmbeddedIndex\n"
        "from chalicelib.adapters.sqlite_db import SQLiteDatabase\n"
        "SentenceTransformerEmbedder().embed(['hello'])\n"
        f"EmbeddedIndex(SQLiteDatabase({str(tmp_path / 'exit.db')!r})).bm25('hello', 5)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[2], timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "leaked" not in done.stderr, done.stderr[-2000:]
