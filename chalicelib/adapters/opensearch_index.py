"""SearchIndex on OpenSearch: BM25 and k-NN (Lucene HNSW, cosine) in one `_msearch`.

The Lucene engine is used on purpose: it needs no native library, and efficient filtering
puts the exclusion filter inside the k-NN clause so excluded people never take result slots.

Two indices: the evidence documents (`index`), and one document per person who answered
(`index` + "-people"): their profile (every question, tag and answer of theirs, for BM25)
and their topics vector (k-NN), rebuilt from their answers on each write that touches them.
"""
from __future__ import annotations

import math
import time
from collections import defaultdict
from typing import Iterable, Iterator, Sequence

import numpy as np

from ..evidence import tag_token
from ..ports import EvidenceDoc, Hit, PersonMatches, TagExpertise
from .embedded_index import (BM25_WEIGHTS, days_since_epoch, match_expression, tags_field,
                             unit)

# Recency, as the embedded index computes it: each answer weighs 0.5 ** (age / half-life).
DECAY = "Math.pow(0.5, (params.now - doc['t_days'].value) / params.half_life)"
# An answer's part of its author's strength on the asked tags: for each of them, its decayed
# weight over the square root of the tag's total (as matching reads it).
TAG_STRENGTH = ("double strength = 0; for (def tag : doc['tags']) { "
                "if (params.tag_scale.containsKey(tag)) { strength += params.tag_scale.get(tag); } } "
                "return strength * " + DECAY + ";")

RETRYABLE = {429, 502, 503, 504}
EF_SEARCH = 512
# The searched fields of evidence and profile documents, in the order of BM25_WEIGHTS.
BM25_FIELDS = ("text", "tags_text", "answer")
PEOPLE_PER_REBUILD = 200  # people rebuilt per round trip (their answers are read at once)


def query_words(text: str, tags: Sequence[str] = ()) -> list[str]:
    """The embedded index's query terms: the words of `text` less stop-words, then each tag
    as a whole token (a tag with no letter or digit has none)."""
    words = [w for w in match_expression(text).replace('"', "").split(" OR ") if w]
    return words + [t for t in map(tag_token, tags) if t != "tag"]


class IndexingError(Exception):
    """Some documents could not be written after retries; `failures` names them."""

    def __init__(self, failures: list[dict]):
        super().__init__(f"{len(failures)} documents failed: {failures[:3]}")
        self.failures = failures


def _settings(shards: int, replicas: int) -> dict:
    return {
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
    }


def _vector(dimensions: int) -> dict:
    return {"type": "knn_vector", "dimension": dimensions,
            "method": {"name": "hnsw", "engine": "lucene", "space_type": "cosinesimil",
                       "parameters": {"m": 16, "ef_construction": 128}}}


def index_body(dimensions: int, shards: int = 1, replicas: int = 0) -> dict:
    """Settings and mappings: English and French analysis on the text, k-NN on the vector."""
    return {
        "settings": _settings(shards, replicas),
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
                "vector": _vector(dimensions),
            }
        },
    }


def people_index_body(dimensions: int, shards: int = 1, replicas: int = 0) -> dict:
    """One document per person who answered: the same three searched fields as evidence
    (each holds one value per answer), and the topics vector."""
    return {
        "settings": _settings(shards, replicas),
        "mappings": {
            "properties": {
                "person_id": {"type": "keyword"},
                "answers": {"type": "integer"},
                "text": {"type": "text", "analyzer": "relais_text"},
                "tags_text": {"type": "text", "analyzer": "relais_text"},
                "answer": {"type": "text", "analyzer": "relais_text"},
                "topics": _vector(dimensions),
            }
        },
    }


class OpenSearchIndex:
    """SearchIndex on an OpenSearch index and its people index (created on first use if
    missing)."""

    def __init__(self, client, index: str = "relais-evidence", dimensions: int = 384,
                 refresh: bool = True, retries: int = 4, backoff_seconds: float = 0.5,
                 half_life_days: float = 180.0, activity_half_life_days: float = 30.0):
        self.client = client
        self.half_life_days = half_life_days  # for expertise on tags and topics vectors
        self.activity_half_life_days = activity_half_life_days
        self.index = index
        self.people_index = f"{index}-people"
        self.dimensions = dimensions
        self.refresh = refresh  # wait until writes are searchable (the embedded index's promise)
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self._ready = False

    def ensure_index(self) -> None:
        if self._ready:
            return
        had_evidence = not self._create(self.index, index_body(self.dimensions))
        if self._create(self.people_index, people_index_body(self.dimensions)) and had_evidence:
            # An index written before people documents existed gets them from its answers.
            self._rebuild_people({hit["_source"]["person_id"] for hit in self._scan(
                {"term": {"kind": "answer"}}, ["person_id"])})
        self._ready = True

    def _create(self, name: str, body: dict) -> bool:
        """Create index `name` if it is missing; True if this call created it."""
        if self.client.indices.exists(index=name):
            return False
        try:
            self.client.indices.create(index=name, body=body)
        except Exception as exc:  # created meanwhile by another writer
            if "resource_already_exists" not in str(exc):
                raise
            return False
        return True

    def drop(self) -> None:
        """Delete both indices (tests and benchmarks make throwaway ones)."""
        self.client.indices.delete(index=f"{self.index},{self.people_index}",
                                   ignore_unavailable=True)
        self._ready = False

    # Writes ------------------------------------------------------------------------------
    def upsert(self, docs: Sequence[EvidenceDoc]) -> None:
        if not docs:
            return
        self.ensure_index()
        # Whose answers these documents were, and are: both people's documents change.
        touched = self._answerers([doc.id for doc in docs])
        touched.update(doc.person_id for doc in docs if doc.kind == "answer")
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
        self._bulk_then_rebuild(actions, touched)

    def delete(self, doc_ids: Sequence[str]) -> None:
        if not doc_ids:
            return
        self.ensure_index()
        touched = self._answerers(doc_ids)
        self._bulk_then_rebuild({doc_id: ({"delete": {"_index": self.index, "_id": doc_id}}, None)
                                 for doc_id in doc_ids}, touched)

    def _answerers(self, doc_ids: Sequence[str]) -> set[str]:
        """The people whose answers `doc_ids` are now (a get is realtime: no refresh needed)."""
        found = self.client.mget(index=self.index, body={"ids": list(doc_ids)},
                                 _source_includes="person_id,kind")["docs"]
        return {d["_source"]["person_id"] for d in found
                if d.get("found") and d["_source"].get("kind") == "answer"}

    def _bulk_then_rebuild(self, actions: dict, touched: set[str]) -> None:
        """Write evidence, then the documents of the people it touched, once each. When some
        evidence fails, the rest was written: its people are rebuilt before raising."""
        try:
            self._bulk(actions)
        except IndexingError:
            self._rebuild_people(touched)
            raise
        self._rebuild_people(touched)

    def _bulk(self, actions: dict, conflicts: bool = False) -> set[str]:
        """Send actions; retry the items that failed for a passing reason (429, 5xx), with
        backoff; raise IndexingError for the rest. With `conflicts`, the ids of items whose
        version condition failed (409) are returned instead."""
        pending = dict(actions)
        failures: list[dict] = []
        conflicted: set[str] = set()
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
                if conflicts and status == 409:
                    conflicted.add(result["_id"])
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
        return conflicted

    def _rebuild_people(self, people: set[str]) -> None:
        """Rewrite the document of each of `people` from their answers as the evidence index
        holds them now, so a redelivered or repeated write converges on the same document.

        Two writers may rebuild one person at once (their answers arrive on different stream
        shards), the one that read the answers first writing last. So each write is
        conditional on the version of the person's document read before their answers (a
        `create` where there was none): the later writer then fails, reads again and writes
        again. For the same reason a person with no answer left keeps an empty document
        (no text, no vector: no query finds it), since a deleted one would have no version
        to hold a late writer to.
        """
        pending = sorted(people)
        if pending and not self.refresh:  # the answers just written must be searchable
            self.client.indices.refresh(index=self.index)
        for _ in range(self.retries + 1):
            conflicted: set[str] = set()
            for start in range(0, len(pending), PEOPLE_PER_REBUILD):
                conflicted |= self._write_people(pending[start:start + PEOPLE_PER_REBUILD])
            pending = sorted(conflicted)
            if not pending:
                return
        raise IndexingError([{"id": person, "status": 409, "error": "rewritten concurrently"}
                             for person in pending])

    def _write_people(self, people: list[str]) -> set[str]:
        """One round of `_rebuild_people`; the people whose version changed meanwhile."""
        versions = {d["_id"]: d for d in self.client.mget(
            index=self.people_index, body={"ids": people}, _source="false")["docs"]
            if d.get("found")}
        answers: dict[str, list[dict]] = defaultdict(list)
        for hit in self._scan({"bool": {"filter": [
                {"term": {"kind": "answer"}}, {"terms": {"person_id": people}}]}},
                ["person_id", "text", "tags", "answer", "created_at", "vector"]):
            answers[hit["_source"]["person_id"]].append(hit["_source"])
        actions = {}
        for person in people:
            if person in versions:
                action = {"index": {"_index": self.people_index, "_id": person,
                                    "if_seq_no": versions[person]["_seq_no"],
                                    "if_primary_term": versions[person]["_primary_term"]}}
            else:
                action = {"create": {"_index": self.people_index, "_id": person}}
            actions[person] = (action, self._person_doc(person, answers[person]))
        return self._bulk(actions, conflicts=True)

    def _person_doc(self, person: str, answers: list[dict]) -> dict:
        """The person's profile: every question, tag token and answer of theirs, one value
        per answer in each field (BM25 reads a field's values as one text). And the topics
        vector: the sum of their questions' vectors, each weighing 2**(days/half-life),
        normalised, which cancels the common scale 2**(-now/half-life) of 0.5**(age/half-life)."""
        topics = np.zeros(self.dimensions)
        for source in answers:
            if source.get("vector") is not None:
                weight = 2.0 ** (days_since_epoch(source.get("created_at", ""))
                                 / self.half_life_days)
                topics += weight * np.asarray(source["vector"], dtype=np.float32)
        document = {"person_id": person, "answers": len(answers),
                    "text": [a.get("text", "") for a in answers],
                    "tags_text": [tags_field(a.get("tags") or []) for a in answers],
                    "answer": [a.get("answer", "") for a in answers]}
        topics = unit(topics)
        if topics is not None:
            document["topics"] = topics.tolist()
        return document

    def person_doc_ids(self, person_id: str) -> set[str]:
        return self._ids({"term": {"person_id": person_id}})

    def delete_person(self, person_id: str) -> None:
        self.delete(sorted(self.person_doc_ids(person_id)))

    def doc_ids(self) -> set[str]:
        return self._ids({"match_all": {}})

    def _ids(self, query: dict) -> set[str]:
        self.ensure_index()
        return {hit["_id"] for hit in self._scan(query)}

    def _scan(self, query: dict, source: list[str] | bool = False) -> Iterator[dict]:
        """Every evidence document matching `query`, in pages of 1000."""
        after = None
        while True:
            body = {"size": 1000, "query": query, "_source": source, "sort": [{"doc_id": "asc"}]}
            if after:
                body["search_after"] = after
            hits = self.client.search(index=self.index, body=body)["hits"]["hits"]
            yield from hits
            if len(hits) < 1000:
                return
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
        fields = [f"{name}^{weight}" for name, weight in zip(BM25_FIELDS, BM25_WEIGHTS)]
        return {"size": k, "_source": {"excludes": ["vector"]},
                "query": {"bool": {"must": [{"multi_match": {
                    "query": " ".join(query_words(text, tags)), "fields": fields,
                    "type": "cross_fields",
                    "operator": "or"}}],
                    "filter": [exclusion]}},
                "sort": [{"_score": "desc"}, {"doc_id": "asc"}], "track_scores": True}

    def _knn_body(self, vector, k: int, exclusion: dict, field: str = "vector") -> dict:
        return {"size": k, "_source": {"excludes": [field]},
                "query": {"knn": {field: {
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
        responses = self._msearch(body)
        knn = self._hits(responses[0], cosine=True)
        bm25 = self._hits(responses[1]) if len(responses) > 1 else []
        return bm25, knn

    def _msearch(self, body: list[dict]) -> list[dict]:
        responses = self.client.msearch(body=body)["responses"]
        for response in responses:
            if "error" in response:
                raise RuntimeError(f"OpenSearch search failed: {response['error']}")
        return responses

    # People as a whole --------------------------------------------------------------------
    @staticmethod
    def _profile_body(words: list[str], k: int, exclusion: dict) -> dict:
        # A profile is long and mixes many questions: each field is scored on its own and
        # the scores added, as the embedded index does (PROFILE_SCORE), so a person's many
        # words in one field do not swamp another field's evidence.
        query = " ".join(words)
        return {"size": k, "_source": False,
                "query": {"bool": {
                    "should": [{"match": {name: {"query": query, "boost": weight}}}
                               for name, weight in zip(BM25_FIELDS, BM25_WEIGHTS)],
                    "minimum_should_match": 1,  # beside a filter, should would be optional
                    "filter": [exclusion]}},
                "sort": [{"_score": "desc"}, {"person_id": "asc"}], "track_scores": True}

    def people(self, text: str, vector, k: int, exclude_people: Iterable[str] = (),
               tags: Sequence[str] = ()) -> PersonMatches:
        """Profile (BM25) and topics (k-NN) from the people index in one `_msearch`."""
        if k <= 0:
            return PersonMatches({}, {})
        self.ensure_index()
        exclusion = self._exclusion(exclude_people)
        topics_body = self._knn_body(vector, k, exclusion, field="topics")
        topics_body["_source"] = False
        body = [{"index": self.people_index}, topics_body]
        words = query_words(text, tags)
        if words:
            body += [{"index": self.people_index}, self._profile_body(words, k, exclusion)]
        responses = self._msearch(body)
        topics = {}
        for hit in responses[0]["hits"]["hits"]:
            cosine = 2.0 * hit["_score"] - 1.0  # Lucene's cosinesimil score is (1 + cosine) / 2
            if cosine > 0:
                topics[hit["_id"]] = cosine
        profile = {}
        if words:
            profile = {hit["_id"]: hit["_score"] for hit in responses[1]["hits"]["hits"]}
        return PersonMatches(profile, topics)

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
        tag_scale = {tag: 1.0 / math.sqrt(total) for tag, total in totals.items()}
        response = self.client.search(index=self.index, body={
            "size": 0, "query": self._answers(exclude_people, {"terms": {"tags": list(totals)}}),
            "aggs": {"person": {
                "terms": {"field": "person_id", "size": limit,
                          "order": [{"strength": "desc"}, {"_key": "asc"}]},
                "aggs": {"strength": {"sum": self._script(TAG_STRENGTH, now,
                                                          tag_scale=tag_scale)},
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
