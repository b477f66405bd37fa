"""SearchIndex on OpenSearch: BM25 and k-NN (Lucene HNSW, cosine) in one `_msearch`.

The Lucene engine is used on purpose: it needs no native library, and efficient filtering
puts the exclusion filter inside the k-NN clause so excluded people never take result slots.
"""
from __future__ import annotations

import time
from typing import Iterable, Sequence

import numpy as np

from ..evidence import tag_token
from ..ports import EvidenceDoc, Hit, TagExpertise
from .embedded_index import BM25_WEIGHTS, days_since_epoch, match_expression, tags_field

# Recency, as the embedded index computes it: each answer weighs 0.5 ** (age / half-life).
DECAY = "Math.pow(0.5, (params.now - doc['t_days'].value) / params.half_life)"
# An answer's share of the question's tags: its weight over each tag's total.
TAG_SHARE = ("double share = 0; for (def tag : doc['tags']) { "
             "if (params.inverse_totals.containsKey(tag)) { share += params.inverse_totals.get(tag); } } "
             "return share * " + DECAY + ";")

RETRYABLE = {429, 502, 503, 504}
EF_SEARCH = 512


class IndexingError(Exception):
    """Some documents could not be written after retries; `failures` names them."""

    def __init__(self, failures: list[dict]):
        super().__init__(f"{len(failures)} documents failed: {failures[:3]}")
        self.failures = failures


def index_body(dimensions: int, shards: int = 1, replicas: int = 0) -> dict:
    """Settings and mappings: English and French analysis on the text, k-NN on the vector."""
    return {
        "settings": {
            "index": {"knn": True, "number_of_shards": shards, "number_of_replicas": replicas},
            "analysis": {
                "filter": {
                    "relais_elision": {"type": "elision", "articles_case": True,
                                       "articles": ["l", "m", "t", "qu", "n", "s", "j", "d", "c"]},
                },
                "analyzer": {
                    # One analyzer for both languages, like the embedded index: accents
                    # folded, French elisions split off, English stemming. Stop-words stay
                    # in the index (as in FTS5) and are dropped from queries.
                    "relais_text": {"type": "custom", "tokenizer": "standard",
                                    "filter": ["relais_elision", "lowercase", "asciifolding",
                                               "porter_stem"]},
                },
            },
        },
        "mappings": {
            "properties": {
                "doc_id": {"type": "keyword"},
                "person_id": {"type": "keyword"},
                "kind": {"type": "keyword"},
                "question_id": {"type": "keyword"},
                "accepted": {"type": "boolean"},
                "score": {"type": "integer"},
                "created_at": {"type": "keyword"},
                "tags": {"type": "keyword"},
                "t_days": {"type": "double"},
                "text": {"type": "text", "analyzer": "relais_text",
                         "fields": {"en": {"type": "text", "analyzer": "english"},
                                    "fr": {"type": "text", "analyzer": "french"}}},
                "tags_text": {"type": "text", "analyzer": "relais_text"},
                "answer": {"type": "text", "analyzer": "relais_text"},
                "vector": {"type": "knn_vector", "dimension": dimensions,
                           "method": {"name": "hnsw", "engine": "lucene",
                                      "space_type": "cosinesimil",
                                      "parameters": {"m": 16, "ef_construction": 128}}},
            }
        },
    }


class OpenSearchIndex:
    """SearchIndex on an OpenSearch index (created on first use if missing)."""

    def __init__(self, client, index: str = "relais-evidence", dimensions: int = 384,
                 refresh: bool = True, retries: int = 4, backoff_seconds: float = 0.5,
                 half_life_days: float = 180.0, activity_half_life_days: float = 30.0):
        self.client = client
        self.half_life_days = half_life_days
        self.activity_half_life_days = activity_half_life_days
        self.index = index
        self.dimensions = dimensions
        self.refresh = refresh  # wait until writes are searchable (the embedded index's promise)
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._ready = False

    def ensure_index(self) -> None:
        if self._ready:
            return
        if not self.client.indices.exists(index=self.index):
            try:
                self.client.indices.create(index=self.index, body=index_body(self.dimensions))
            except Exception as exc:  # created meanwhile by another writer
                if "resource_already_exists" not in str(exc):
                    raise
        self._ready = True

    # Writes ------------------------------------------------------------------------------
    def upsert(self, docs: Sequence[EvidenceDoc]) -> None:
        if not docs:
            return
        self.ensure_index()
        actions = {}
        for doc in docs:
            source = {"doc_id": doc.id, "person_id": doc.person_id, "kind": doc.kind,
                      "question_id": doc.question_id, "accepted": bool(doc.accepted),
                      "score": int(doc.score), "created_at": doc.created_at,
                      "tags": list(doc.tags), "text": doc.text, "answer": doc.answer,
                      "tags_text": tags_field(doc.tags),
                      "t_days": days_since_epoch(doc.created_at)}
            if doc.vector is not None:
                source["vector"] = np.asarray(doc.vector, dtype=np.float32).tolist()
            actions[doc.id] = ({"index": {"_index": self.index, "_id": doc.id}}, source)
        self._bulk(actions)

    def delete(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        self.ensure_index()
        self._bulk({doc_id: ({"delete": {"_index": self.index, "_id": doc_id}}, None)
                    for doc_id in doc_ids})

    def _bulk(self, actions: dict) -> None:
        """Send actions; retry the items that failed for a passing reason (429, 5xx), with
        backoff; raise IndexingError for the rest."""
        pending = dict(actions)
        failures: list[dict] = []
        for attempt in range(self.retries + 1):
            body = []
            for action, source in pending.values():
                body.append(action)
                if source is not None:
                    body.append(source)
            response = self.client.bulk(body=body, refresh="wait_for" if self.refresh else "false")
            retry = {}
            failures = []
            for item in response["items"]:
                operation, result = next(iter(item.items()))
                status = result.get("status", 500)
                if status < 300 or (operation == "delete" and status == 404):
                    continue
                failure = {"id": result.get("_id"), "status": status,
                           "error": result.get("error")}
                if status in RETRYABLE:
                    retry[result["_id"]] = pending[result["_id"]]
                failures.append(failure)
            if not retry:
                break
            pending = retry
            time.sleep(self.backoff_seconds * (2 ** attempt))
        if failures:
            raise IndexingError(failures)

    def person_doc_ids(self, person_id: str) -> set[str]:
        return self._ids({"term": {"person_id": person_id}})

    def delete_person(self, person_id: str) -> None:
        self.delete(sorted(self.person_doc_ids(person_id)))

    def doc_ids(self) -> set[str]:
        return self._ids({"match_all": {}})

    def _ids(self, query: dict) -> set[str]:
        self.ensure_index()
        ids: set[str] = set()
        after = None
        while True:
            body = {"size": 1000, "query": query, "_source": False, "sort": [{"doc_id": "asc"}]}
            if after:
                body["search_after"] = after
            hits = self.client.search(index=self.index, body=body)["hits"]["hits"]
            ids.update(hit["_id"] for hit in hits)
            if len(hits) < 1000:
                return ids
            after = hits[-1]["sort"]

    # Reads -------------------------------------------------------------------------------
    @staticmethod
    def _exclusion(exclude_people: Iterable[str]) -> dict:
        excluded = sorted(set(exclude_people))
        if not excluded:
            return {"match_all": {}}
        return {"bool": {"must_not": [{"terms": {"person_id": excluded}}]}}

    def _bm25_body(self, text: str, k: int, exclusion: dict, tags: Sequence[str] = ()) -> dict:
        # The embedded index's query terms, with term statistics blended across the fields
        # (cross_fields), close to how FTS5 weighs its columns: the two backends rank alike.
        terms = match_expression(text).replace('"', "").split(" OR ")
        words = " ".join([*(t for t in terms if t), *(tag_token(t) for t in tags)])
        fields = [f"{name}^{weight}" for name, weight in
                  zip(("text", "tags_text", "answer"), BM25_WEIGHTS)]
        return {"size": k, "_source": {"excludes": ["vector"]},
                "query": {"bool": {"must": [{"multi_match": {
                    "query": words, "fields": fields, "type": "cross_fields",
                    "operator": "or"}}],
                    "filter": [exclusion]}},
                "sort": [{"_score": "desc"}, {"doc_id": "asc"}], "track_scores": True}

    def _knn_body(self, vector, k: int, exclusion: dict) -> dict:
        return {"size": k, "_source": {"excludes": ["vector"]},
                "query": {"knn": {"vector": {
                    "vector": np.asarray(vector, dtype=np.float32).tolist(), "k": k,
                    "filter": exclusion,
                    # A wider HNSW search: results closer to the embedded index's exact kNN.
                    "method_parameters": {"ef_search": max(EF_SEARCH, k)}}}}}

    @staticmethod
    def _hits(response: dict, cosine: bool = False) -> list[Hit]:
        hits = []
        for hit in response["hits"]["hits"]:
            source = hit["_source"]
            score = hit["_score"]
            if cosine:  # Lucene's cosinesimil score is (1 + cosine) / 2
                score = 2.0 * score - 1.0
            hits.append(Hit(EvidenceDoc(
                id=source["doc_id"], person_id=source["person_id"], kind=source["kind"],
                text=source["text"], answer=source.get("answer", ""),
                tags=source.get("tags") or [],
                question_id=source.get("question_id"), accepted=source.get("accepted", False),
                score=source.get("score", 0), created_at=source.get("created_at", "")), score))
        return hits

    def bm25(self, text: str, k: int, exclude_people: Iterable[str] = (),
             tags: Sequence[str] = ()) -> list[Hit]:
        if not (text.strip() or tags) or k <= 0:
            return []
        self.ensure_index()
        return self._hits(self.client.search(
            index=self.index, body=self._bm25_body(text, k, self._exclusion(exclude_people),
                                                   tags)))

    def knn(self, vector, k: int, exclude_people: Iterable[str] = ()) -> list[Hit]:
        if k <= 0:
            return []
        self.ensure_index()
        return self._hits(self.client.search(
            index=self.index, body=self._knn_body(vector, k, self._exclusion(exclude_people))),
            cosine=True)

    def retrieve(self, text: str, vector, k: int, exclude_people: Iterable[str] = (),
                 tags: Sequence[str] = (), k_knn: int | None = None):
        """BM25 and k-NN in one `_msearch` round trip."""
        self.ensure_index()
        exclusion = self._exclusion(exclude_people)
        body = [{"index": self.index},
                self._knn_body(vector, k if k_knn is None else k_knn, exclusion)]
        if text.strip() or tags:
            body += [{"index": self.index}, self._bm25_body(text, k, exclusion, tags)]
        responses = self.client.msearch(body=body)["responses"]
        for response in responses:
            if "error" in response:
                raise RuntimeError(f"OpenSearch search failed: {response['error']}")
        knn = self._hits(responses[0], cosine=True)
        bm25 = self._hits(responses[1]) if len(responses) > 1 else []
        return bm25, knn

    # Inferred expertise -------------------------------------------------------------------
    def _answers(self, exclude_people: Iterable[str], *more: dict) -> dict:
        query = {"bool": {"filter": [{"term": {"kind": "answer"}}, *more]}}
        excluded = sorted(set(exclude_people))
        if excluded:
            query["bool"]["must_not"] = [{"terms": {"person_id": excluded}}]
        return query

    def _script(self, source: str, now, half_life: float | None = None, **params) -> dict:
        return {"script": {"source": source, "params": {
            "now": days_since_epoch(now), "half_life": half_life or self.half_life_days,
            **params}}}

    def tag_expertise(self, tags: Sequence[str], now, limit: int,
                      exclude_people: Iterable[str] = ()) -> TagExpertise:
        tags = list(dict.fromkeys(tags))
        if not tags or limit <= 0:
            return TagExpertise({}, {})
        self.ensure_index()
        by_tag = self.client.search(index=self.index, body={
            "size": 0, "query": self._answers((), {"terms": {"tags": tags}}),
            "aggs": {"tag": {"terms": {"field": "tags", "include": tags, "size": len(tags)},
                             "aggs": {"weight": {"sum": self._script(DECAY, now)}}}}})
        totals = {b["key"]: b["weight"]["value"] for b in
                  by_tag["aggregations"]["tag"]["buckets"] if b["weight"]["value"] > 0}
        if not totals:
            return TagExpertise({}, {})
        inverse = {tag: 1.0 / total for tag, total in totals.items()}
        response = self.client.search(index=self.index, body={
            "size": 0, "query": self._answers(exclude_people, {"terms": {"tags": list(totals)}}),
            "aggs": {"person": {
                "terms": {"field": "person_id", "size": limit,
                          "order": [{"share": "desc"}, {"_key": "asc"}]},
                "aggs": {"share": {"sum": self._script(TAG_SHARE, now, inverse_totals=inverse)},
                         "tag": {"terms": {"field": "tags", "include": list(totals),
                                           "size": len(totals)},
                                 "aggs": {"weight": {"sum": self._script(DECAY, now)}}}}}}})
        people = {b["key"]: {t["key"]: t["weight"]["value"] for t in b["tag"]["buckets"]}
                  for b in response["aggregations"]["person"]["buckets"]}
        return TagExpertise(people, totals)

    def activity(self, person_ids: Iterable[str], now, top: int,
                 exclude_people: Iterable[str] = ()) -> dict[str, float]:
        self.ensure_index()
        ids = sorted(set(person_ids))
        weight = {"weight": {"sum": self._script(DECAY, now, self.activity_half_life_days)}}
        aggs = {"top": {"terms": {"field": "person_id", "size": max(top, 1),
                                  "order": [{"weight": "desc"}, {"_key": "asc"}]},
                        "aggs": weight}}
        if ids:
            aggs["asked"] = {"filter": {"terms": {"person_id": ids}}, "aggs": {
                "person": {"terms": {"field": "person_id", "size": len(ids)}, "aggs": weight}}}
        response = self.client.search(index=self.index, body={
            "size": 0, "query": self._answers(exclude_people), "aggs": aggs})["aggregations"]
        found = {}
        if top > 0:
            found.update({b["key"]: b["weight"]["value"] for b in response["top"]["buckets"]})
        if ids:
            found.update({b["key"]: b["weight"]["value"]
                          for b in response["asked"]["person"]["buckets"]})
        return found
