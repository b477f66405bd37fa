"""The embedding model is a setting: the search index takes the width of the vectors the
model makes, and vectors a model of another width wrote are set aside until a reindex."""
from __future__ import annotations

import json

import pytest

from chalicelib.adapters.embedders import (DIMENSIONS, SentenceTransformerEmbedder,
                                           model_dimensions)
from chalicelib.auth import Caller
from chalicelib.bootstrap import bootstrap
from chalicelib.config import Settings
from chalicelib.schemas import AnswerIn, QuestionIn
from chalicelib.services.routing import Draft
from tests.fakes import FakeEmbedder


class WideEmbedder(FakeEmbedder):
    """A model making vectors twice as long."""

    dimensions = 768


def model_folder(path, modules=None, **files):
    """A sentence-transformers model's description files (no weights: none are read)."""
    path.mkdir(parents=True)
    if modules is not None:
        (path / "modules.json").write_text(json.dumps(modules))
    for name, content in files.items():
        target = path / name.replace("__", "/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(content))
    return str(path)


def test_the_width_is_read_from_the_models_files(tmp_path):
    assert model_dimensions("all-MiniLM-L6-v2") == DIMENSIONS == 384
    pooled = model_folder(tmp_path / "mpnet", [
        {"path": "", "type": "sentence_transformers.models.Transformer"},
        {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"path": "2_Normalize", "type": "sentence_transformers.models.Normalize"}],
        config_json={"hidden_size": 768}, **{"1_Pooling__config.json":
                                             {"word_embedding_dimension": 768}})
    assert model_dimensions(pooled) == 768
    dense = model_folder(tmp_path / "dense", [
        {"path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
        {"path": "2_Dense", "type": "sentence_transformers.models.Dense"}],
        **{"1_Pooling__config.json": {"word_embedding_dimension": 768},
           "2_Dense__config.json": {"in_features": 768, "out_features": 256}})
    assert model_dimensions(dense) == 256
    bare = model_folder(tmp_path / "bare", **{"config.json": {"hidden_size": 512}})
    assert model_dimensions(bare) == 512
    assert SentenceTransformerEmbedder(bare).dimensions == 512  # and nothing loaded
    with pytest.raises(RuntimeError, match="is not in its files"):
        model_dimensions(model_folder(tmp_path / "empty"))


def routed(relais) -> list[str]:
    return [s.person_id for s in relais.routing.rank(
        Draft("kafka consumer lag", tags=("kafka",)), "ana", limit=3)]


def test_a_model_of_another_width_sets_old_vectors_aside_until_reindex(tmp_path, clock):
    settings = Settings(data_dir=str(tmp_path), token_secret="s")
    before = bootstrap(settings, clock=clock, embedder=FakeEmbedder())
    before.hr_sync.upsert([{"id": "ana", "name": "Ana"}, {"id": "ben", "name": "Ben"}])
    question = before.questions.ask(Caller("ana"), QuestionIn(
        title="Why does the kafka consumer lag?", tags=["kafka"]), route=False)
    before.questions.answer(Caller("ben"), question.id, AnswerIn(body="Rebalancing storms."))
    assert routed(before) == ["ben"]

    after = bootstrap(settings, clock=clock, embedder=WideEmbedder())
    assert after.index.dimensions == 768 and after.index.set_aside > 0
    assert after.index.knn(WideEmbedder().embed(["kafka consumer lag"])[0], 5) == []
    assert routed(after) == ["ben"]  # found by the question's words meanwhile
    after.indexer.reindex()
    hits = after.index.knn(WideEmbedder().embed(["kafka consumer lag"])[0], 5)
    assert {h.doc.person_id for h in hits} == {"ben"}
    assert routed(after) == ["ben"]
    again = bootstrap(settings, clock=clock, embedder=WideEmbedder())
    assert again.index.set_aside == 0  # nothing left of the other width


def test_the_width_is_kept_so_an_index_of_the_same_model_opens_without_a_scan(tmp_path):
    from chalicelib.adapters.embedded_index import EmbeddedIndex
    from chalicelib.adapters.sqlite_db import SQLiteDatabase
    path = str(tmp_path / "index.db")
    EmbeddedIndex(SQLiteDatabase(path), 384)
    db = SQLiteDatabase(path)
    assert dict(db.tuples("SELECT key, value FROM index_meta"))["dimensions"] == 384
    statements = []
    db.conn.set_trace_callback(statements.append)
    EmbeddedIndex(db, 384)
    assert not [s for s in statements if "length(vector)" in s]
