"""The SearchIndex contract against a real OpenSearch node (k-NN plugin, Lucene engine)."""
from __future__ import annotations

import pytest

from chalicelib.adapters.opensearch_index import IndexingError, OpenSearchIndex
from tests.contract.search_index_contract import CORPUS, ExpertiseContract, SearchIndexContract

pytestmark = pytest.mark.opensearch


class TestOpenSearchIndex(SearchIndexContract, ExpertiseContract):
    @pytest.fixture
    def index(self, opensearch_index):
        return opensearch_index

    def test_the_index_uses_lucene_hnsw_with_cosine(self, index):
        index.upsert(CORPUS[:1])
        mapping = index.client.indices.get_mapping(index=index.index)[index.index]
        method = mapping["mappings"]["properties"]["vector"]["method"]
        assert (method["engine"], method["name"], method["space_type"]) == (
            "lucene", "hnsw", "cosinesimil")

    def test_english_and_french_analysis(self, index):
        index.upsert(CORPUS)
        tokens = index.client.indices.analyze(index=index.index, body={
            "analyzer": "relais_text", "text": "L'été des notes de frais"})["tokens"]
        # folded, elided, stemmed; stop-words stay in the index (they are dropped from queries)
        assert [t["token"] for t in tokens] == ["et", "de", "note", "de", "frai"]

    def test_a_bad_document_is_reported_by_id_and_the_others_are_written(self, index):
        good = CORPUS[1]
        bad = CORPUS[0].__class__(**{**CORPUS[0].__dict__, "id": "answer:bad",
                                     "vector": [0.1] * 3})  # wrong dimension
        with pytest.raises(IndexingError) as raised:
            index.upsert([good, bad])
        assert [f["id"] for f in raised.value.failures] == ["answer:bad"]
        assert raised.value.failures[0]["status"] == 400
        assert index.doc_ids() == {good.id}


def test_transient_rejections_are_retried(opensearch_index):
    """A 429 on some items is retried until they are written."""
    index = opensearch_index
    calls = []
    real_bulk = index.client.bulk

    def flaky_bulk(body, **kwargs):
        response = real_bulk(body=body, **kwargs)
        if not calls:  # first call: pretend the second item was rejected for load
            response["items"][1]["index"]["status"] = 429
        calls.append(len(body))
        return response

    index.client.bulk = flaky_bulk
    index.upsert(CORPUS[:3])
    assert len(calls) == 2 and calls[1] == 2  # only the rejected item was sent again
    assert index.doc_ids() == {d.id for d in CORPUS[:3]}
