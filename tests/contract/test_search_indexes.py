"""The SearchIndex contract on the embedded index (and on OpenSearch when a node runs)."""
from __future__ import annotations

import pytest

from chalicelib.adapters.embedded_index import EmbeddedIndex
from chalicelib.adapters.sqlite_db import SQLiteDatabase
from tests.contract.search_index_contract import (ExpertiseContract, PersonMatchContract,
                                                 SearchIndexContract)


class TestEmbeddedIndex(SearchIndexContract, ExpertiseContract, PersonMatchContract):
    @pytest.fixture
    def index(self):
        return EmbeddedIndex(SQLiteDatabase(":memory:"))

    def test_another_process_sees_writes(self, tmp_path):
        path = str(tmp_path / "shared.db")
        writer, reader = EmbeddedIndex(SQLiteDatabase(path)), EmbeddedIndex(SQLiteDatabase(path))
        from tests.contract.search_index_contract import CORPUS
        assert reader.knn(CORPUS[0].vector, 5) == []
        writer.upsert(CORPUS[:2])
        assert [h.doc.id for h in reader.knn(CORPUS[0].vector, 1)] == ["answer:1"]


def test_all_docs_gives_back_every_document_with_its_vector():
    import numpy as np

    from tests.contract.search_index_contract import CORPUS
    index = EmbeddedIndex(SQLiteDatabase(":memory:"))
    index.upsert(CORPUS)
    copied = {d.id: d for d in index.all_docs()}
    assert set(copied) == {d.id for d in CORPUS}
    for original in CORPUS:
        assert np.allclose(copied[original.id].vector, original.vector)
        assert (copied[original.id].text, copied[original.id].tags) == (original.text, original.tags)


def test_an_index_from_before_person_profiles_gets_them_on_opening(tmp_path):
    from tests.contract.search_index_contract import EMBED, PersonMatchContract
    path = str(tmp_path / "old.db")
    old = EmbeddedIndex(SQLiteDatabase(path))
    old.upsert([PersonMatchContract().answer(1, "ana", "kafka consumer lag", ["kafka"]),
                PersonMatchContract().answer(2, "ben", "excel pivot tables")])
    expected = old.people("kafka", EMBED.embed(["kafka consumer lag"])[0], 10)
    with old.db.transaction() as conn:  # as an index written by an earlier version
        conn.execute("DROP TABLE person_profile")
        conn.execute("DROP TABLE person_fts")
    reopened = EmbeddedIndex(SQLiteDatabase(path))
    found = reopened.people("kafka", EMBED.embed(["kafka consumer lag"])[0], 10)
    assert found.profile == expected.profile and list(found.profile) == ["ana"]
    assert found.topics == pytest.approx(expected.topics) and list(found.topics) == ["ana"]
