"""The SearchIndex contract against a real OpenSearch node (k-NN plugin, Lucene engine)."""
from __future__ import annotations

import pytest

from chalicelib.adapters.embedded_index import EmbeddedIndex
from chalicelib.adapters.opensearch_index import IndexingError, OpenSearchIndex
from chalicelib.adapters.sqlite_db import SQLiteDatabase
from tests.contract.search_index_contract import (CORPUS, EMBED, ExpertiseContract,
                                                 PersonMatchContract, SearchIndexContract)

pytestmark = pytest.mark.opensearch


class TestOpenSearchIndex(SearchIndexContract, ExpertiseContract, PersonMatchContract):
    @pytest.fixture
    def index(self, opensearch_index):
        return opensearch_index

    def test_the_index_uses_lucene_hnsw_with_cosine(self, index):
        index.upsert(CORPUS[:1])
        mapping = index.client.indices.get_mapping(index=index.index)[index.index]
        method = mapping["mappings"]["properties"]["vector"]["method"]
        assert (method["engine"], method["name"], method["space_type"]) == (
            "lucene", "hnsw", "cosinesimil")
        people = index.client.indices.get_mapping(index=index.people_index)[index.people_index]
        method = people["mappings"]["properties"]["topics"]["method"]
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
        assert list(index.people("kubernetes", good.vector, 10).profile) == [good.person_id]

    def test_people_match_the_embedded_index(self, index):
        """Same answers, same people: the topics cosines agree, and so do the profile
        rankings (BM25 scores themselves differ: FTS5 and Lucene compute idf apart)."""
        contract = PersonMatchContract()
        docs = [contract.answer(1, "ana", "postgresql vacuum tuning", ["postgresql"], 30),
                contract.answer(2, "ana", "kafka consumer lag", ["kafka"], 400),
                contract.answer(3, "ben", "postgresql replication slots", ["postgresql"],
                                answer="use pg_replication_slots"),
                contract.answer(4, "cy", "postgresql index bloat", days_ago=900),
                contract.answer(5, "cy", "excel pivot tables", ["excel"], 10), *CORPUS]
        embedded = EmbeddedIndex(SQLiteDatabase(":memory:"))
        embedded.upsert(docs)
        index.upsert(docs)
        for text, tags in (("postgresql replication", ()), ("kafka lag", ["kafka"]),
                           ("excel tables", ["postgresql"])):
            vector = EMBED.embed([text])[0]
            expected = embedded.people(text, vector, 10, tags=tags)
            found = index.people(text, vector, 10, tags=tags)
            assert list(found.profile) == list(expected.profile)
            assert found.topics == pytest.approx(expected.topics, abs=1e-5)

    def test_a_concurrent_rebuild_of_the_same_person_is_not_lost(self, index):
        """Two writers rebuild one person at once and the one that read her answers first
        writes last: its write is refused and it reads again."""
        contract = PersonMatchContract()
        other = OpenSearchIndex(index.client, index.index)
        index.upsert([contract.answer(1, "ana", "kafka consumer lag")])
        real_scan, interleaved = index._scan, []

        def scan_then_the_other_writes(query, source=False):
            hits = list(real_scan(query, source))
            if source and not interleaved:  # `index` has read ana's answers
                interleaved.append(True)
                other.upsert([contract.answer(2, "ana", "terraform modules")])
            return iter(hits)

        index._scan = scan_then_the_other_writes
        index.upsert([contract.answer(3, "ana", "excel pivot tables")])
        assert interleaved
        for words in ("kafka", "terraform", "excel"):
            assert list(index.people(words, EMBED.embed([words])[0], 10).profile) == ["ana"]

    def test_an_index_from_before_people_documents_gets_them(self, index):
        contract = PersonMatchContract()
        index.upsert([contract.answer(1, "ana", "kafka consumer lag", ["kafka"]),
                      contract.answer(2, "ben", "excel pivot tables"), CORPUS[3]])
        vector = EMBED.embed(["kafka consumer lag"])[0]
        expected = index.people("kafka", vector, 10)
        index.client.indices.delete(index=index.people_index)  # as an earlier version wrote
        reopened = OpenSearchIndex(index.client, index.index)
        found = reopened.people("kafka", vector, 10)
        assert list(found.profile) == ["ana"]
        assert found.profile == pytest.approx(expected.profile)
        assert found.topics == pytest.approx(expected.topics) and list(found.topics)[0] == "ana"


def test_transient_rejections_are_retried(opensearch_index):
    """A 429 on some items is retried until they are written."""
    index = opensearch_index
    calls = []
    real_bulk = index.client.bulk

    def flaky_bulk(body, **kwargs):
        response = real_bulk(body=body, **kwargs)
        if next(iter(body[0].values()))["_index"] != index.index:
            return response  # the people documents are written afterwards
        if not calls:  # first call: pretend the second item was rejected for load
            response["items"][1]["index"]["status"] = 429
        calls.append(len(body))
        return response

    index.client.bulk = flaky_bulk
    index.upsert(CORPUS[:3])
    assert len(calls) == 2 and calls[1] == 2  # only the rejected item was sent again
    assert index.doc_ids() == {d.id for d in CORPUS[:3]}
