"""The store contracts run against the SQLite adapters of the embedded profile."""
from __future__ import annotations

import pytest

from chalicelib.adapters.sqlite_community_store import (SQLiteAuditLog, SQLiteCommunityStore,
                                                       SQLiteSettingStore, SQLiteVoteReader)
from chalicelib.adapters.sqlite_db import SQLiteDatabase
from chalicelib.adapters.sqlite_store import SQLiteProfileStore, SQLiteQuestionStore

from .store_contracts import (AuditLogContract, CommunityStoreContract, ProfileStoreContract,
                              QuestionStoreContract, SettingStoreContract, VoteReaderContract,
                              person)


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
