"""The store contracts run against the SQLite adapters of the embedded profile."""
from __future__ import annotations

import pytest

from chalicelib.adapters.sqlite_community_store import (SQLiteAuditLog, SQLiteCommunityStore,
                                                       SQLiteSettingStore, SQLiteVoteReader)
from chalicelib.adapters.sqlite_db import SQLiteDatabase, dumps
from chalicelib.adapters.sqlite_store import SQLiteProfileStore, SQLiteQuestionStore

from .store_contracts import (AuditLogContract, CommunityStoreContract, ProfileStoreContract,
                              QuestionStoreContract, SettingStoreContract, VoteReaderContract,
                              person, question)


@pytest.fixture(params=["memory", "file"])
def database(request, tmp_path):
    """Both the in-memory database of the tests and the WAL file a deployment uses."""
    return SQLiteDatabase(":memory:" if request.param == "memory" else str(tmp_path / "r.db"))


class TestSQLiteProfileStore(ProfileStoreContract):
    @pytest.fixture
    def store(self, database):
        return SQLiteProfileStore(database)


class TestSQLiteQuestionStore(QuestionStoreContract):
    @pytest.fixture
    def store(self, database):
        return SQLiteQuestionStore(database)


class TestSQLiteCommunityStore(CommunityStoreContract):
    @pytest.fixture
    def store(self, database):
        return SQLiteCommunityStore(database)


class TestSQLiteSettingStore(SettingStoreContract):
    @pytest.fixture
    def store(self, database):
        return SQLiteSettingStore(database)


class TestSQLiteAuditLog(AuditLogContract):
    @pytest.fixture
    def store(self, database):
        return SQLiteAuditLog(database)


class TestSQLiteVoteReader(VoteReaderContract):
    @pytest.fixture
    def questions(self, database):
        return SQLiteQuestionStore(database)

    @pytest.fixture
    def votes(self, database, questions):
        return SQLiteVoteReader(database)


def test_records_survive_reopening_the_database_file(tmp_path):
    path = str(tmp_path / "relais.db")
    profiles = SQLiteProfileStore(SQLiteDatabase(path))
    profiles.add(person("u1", "Hélène", skills=["Go"]))
    reopened = SQLiteProfileStore(SQLiteDatabase(path))
    assert reopened.get("u1").name == "Hélène"
    assert [p.id for p in reopened.search(text="helene").items] == ["u1"]


def test_a_database_of_an_earlier_version_lists_its_community_questions_by_change(tmp_path):
    """Questions tables written before the community and last-change columns existed get them,
    filled from each question's record, when the store opens the file."""
    path = str(tmp_path / "relais.db")
    db = SQLiteDatabase(path)
    db.executescript("CREATE TABLE questions (id TEXT PRIMARY KEY, data TEXT NOT NULL,"
                     " version INTEGER NOT NULL, asker_id TEXT NOT NULL, status TEXT NOT NULL,"
                     " seq INTEGER NOT NULL);")
    with db.transaction() as conn:  # as the earlier version wrote them
        for seq, (qid, community, changed) in enumerate([
                ("q1", "c1", "2026-01-01T00:00:00Z"), ("q2", "c1", "2026-03-01T00:00:00Z"),
                ("q3", None, "2026-03-01T00:00:00Z")], start=1):
            record = question(qid, community_id=community).replace(updated_at=changed)
            conn.execute("INSERT INTO questions VALUES (?,?,?,?,?,?)",
                         (qid, dumps(record.to_dict()), 1, "u1", "open", seq))
    store = SQLiteQuestionStore(SQLiteDatabase(path))
    assert [q.id for q in store.community_questions_changed_since(
        "c1", "2026-02-01T00:00:00Z")] == ["q2"]
    assert [q.id for q in store.community_questions_changed_since("c1", "")] == ["q1", "q2"]
    store.add_question(question("q4", community_id="c1").replace(updated_at="2026-04-01T00:00:00Z"))
    assert [q.id for q in store.community_questions_changed_since(
        "c1", "2026-02-01T00:00:00Z")] == ["q2", "q4"]
