"""The SearchIndex contract on the embedded index (and on OpenSearch when a node runs)."""
from __future__ import annotations

import pytest

from chalicelib.adapters.embedded_index import EmbeddedIndex
from chalicelib.adapters.sqlite_db import SQLiteDatabase
from tests.contract.search_index_contract import ExpertiseContract, SearchIndexContract


class TestEmbeddedIndex(SearchIndexContract, ExpertiseContract):
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
