"""Directory search is keyed by the profile's rowid: a write replaces its row by key (no scan),
and a database from before (keyed by an UNINDEXED id column) is rebuilt once on opening."""
from __future__ import annotations

from chalicelib.adapters.sqlite_db import SQLiteDatabase, dumps, fts_query
from chalicelib.adapters.sqlite_store import SQLiteProfileStore
from chalicelib.domain import Profile

OLD_SEARCH_TABLE = """CREATE VIRTUAL TABLE profiles_fts USING fts5(
    id UNINDEXED, name, skills, text, tokenize = 'unicode61 remove_diacritics 2')"""

PEOPLE = [Profile(id="a", name="Ana Lima", skills=["Kafka", "Java"], bio="streams"),
          Profile(id="b", name="Ben Kafka", skills=["Excel"], department="Finance"),
          Profile(id="c", name="Cy", skills=["Kafka"], active=False),
          Profile(id="d", name="Dee", skills=["kafka streams"], site="Lyon")]


def searched(store, text="", skill=""):
    return [p.id for p in store.search(text=text, skill=skill, limit=10).items]


def test_writes_replace_the_search_row_by_rowid(tmp_path):
    store = SQLiteProfileStore(SQLiteDatabase(str(tmp_path / "p.db")))
    for profile in PEOPLE:
        store.add(profile)
    assert searched(store, "kafka") == ["b", "d", "a"]  # the name weighs most
    ana = store.get("a")
    store.update(ana.replace(name="Ana Souza", skills=["Excel"]))
    assert searched(store, "kafka") == ["b", "d"] and searched(store, "souza") == ["a"]
    rows = store.db.query("SELECT p.id, f.name FROM profiles p JOIN profiles_fts f"
                          " ON f.rowid = p.rowid ORDER BY p.id")
    assert [(r["id"], r["name"]) for r in rows] == [("a", "Ana Souza"), ("b", "Ben Kafka"),
                                                    ("d", "Dee")]
    plan = " ".join(r[3] for r in store.db.query(
        "EXPLAIN QUERY PLAN DELETE FROM profiles_fts WHERE rowid = ?", (1,)))
    assert "VIRTUAL TABLE INDEX" in plan  # by rowid: FTS5's own lookup, not a scan


def test_a_database_from_before_is_rebuilt_once(tmp_path):
    path = str(tmp_path / "old.db")
    SQLiteProfileStore(SQLiteDatabase(path))
    db = SQLiteDatabase(path)
    with db.transaction() as conn:  # the layout and writes of the earlier version
        conn.execute("DROP TABLE profiles_fts")
        conn.execute(OLD_SEARCH_TABLE)
        for profile in PEOPLE:
            stored = profile.replace(version=1)
            conn.execute("INSERT OR REPLACE INTO profiles (id, data, version, active, deleted,"
                         " department, user_name, email, external_id) VALUES (?,?,?,?,?,?,?,?,?)",
                         (stored.id, dumps(stored.to_dict()), 1, int(stored.active), 0,
                          stored.department, "", "", ""))
            conn.execute("INSERT INTO profiles_fts (rowid, id, name, skills, text)"
                         " VALUES (?, ?, ?, ?, ?)", (100 + ord(stored.id), stored.id,
                                                      stored.name, " ; ".join(stored.skills),
                                                      " ".join([stored.bio, stored.department,
                                                                stored.site])))
    queries = ["kafka", "streams", "ana", "kafka streams java", "finance excel"]
    before = {q: [r[0] for r in db.query(  # the earlier version's search
        "SELECT p.id FROM profiles p JOIN profiles_fts f ON f.id = p.id WHERE p.active = 1"
        " AND p.deleted = 0 AND profiles_fts MATCH ?"
        " ORDER BY bm25(profiles_fts, 0, 4.0, 3.0, 1.0), p.id", (fts_query(q),))]
        for q in queries}
    store = SQLiteProfileStore(SQLiteDatabase(path))
    columns = [r[1] for r in store.db.query("PRAGMA table_info(profiles_fts)")]
    assert columns == ["name", "skills", "text"]
    assert {q: searched(store, q) for q in queries} == before
    assert before["kafka"] == ["b", "d", "a"]
    store.update(store.get("d").replace(skills=["VAT"]))
    assert searched(store, "kafka") == ["b", "a"]
    SQLiteProfileStore(SQLiteDatabase(path))  # opening again changes nothing
    assert searched(store, "kafka") == ["b", "a"]
