"""The indexer keeps the search index in step with the records."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from chalicelib.auth import Caller
from chalicelib.bootstrap import bootstrap
from chalicelib.schemas import AnswerIn, ProfilePatch, QuestionIn
from tests.conftest import make_settings

ROOT = Path(__file__).resolve().parents[2]


def people(relais, count=40, skills=("Kafka", "PostgreSQL", "Comptabilité")):
    relais.hr_sync.upsert([{"id": f"p{i}", "name": f"Person {i}"} for i in range(count)])
    for i in range(count):
        relais.profiles.edit(Caller(f"p{i}"), f"p{i}", ProfilePatch(skills=list(skills)))


def test_identical_texts_are_embedded_once(relais, embedder):
    people(relais)
    assert embedder.texts == 3  # three distinct skills, for forty people
    assert len(relais.index.doc_ids()) == 40


def test_reindex_rebuilds_from_the_records_and_is_idempotent(relais):
    people(relais, 5)
    question = relais.questions.ask(Caller("p0"), QuestionIn(title="Kafka lag"), route=False)
    relais.questions.answer(Caller("p1"), question.id, AnswerIn(body="Check offsets."))
    expected = relais.index.doc_ids()
    relais.index.delete(sorted(expected))
    first = relais.indexer.reindex()
    assert relais.index.doc_ids() == expected and first["documents"] == len(expected)
    again = relais.indexer.reindex()
    assert again == {"documents": len(expected), "removed": 0}
    assert relais.index.doc_ids() == expected


def test_leavers_and_deleted_answers_leave_the_index(relais):
    people(relais, 3)
    question = relais.questions.ask(Caller("p0"), QuestionIn(title="Kafka lag"), route=False)
    answer = relais.questions.answer(Caller("p1"), question.id, AnswerIn(body="Check offsets."))
    assert f"answer:{answer.id}" in relais.index.person_doc_ids("p1")
    relais.hr_sync.upsert([{"id": "p1", "name": "Person 1", "active": False}])
    assert relais.index.person_doc_ids("p1") == set()
    relais.hr_sync.upsert([{"id": "p1", "name": "Person 1", "active": True}])
    assert f"answer:{answer.id}" in relais.index.person_doc_ids("p1")  # back, with answers
    deleted = relais.question_store.update_answer(
        relais.question_store.get_answer(answer.id).replace(deleted=True))
    relais.indexer.index_answer(question, deleted)
    assert f"answer:{answer.id}" not in relais.index.doc_ids()
    relais.indexer.reindex()
    assert f"answer:{answer.id}" not in relais.index.doc_ids()


def test_endpoints_that_do_not_embed_never_load_the_model(tmp_path, api):
    """The real embedder, lazily loaded: reading the directory or questions leaves it unloaded."""
    relais = bootstrap(make_settings(tmp_path))
    import app as app_module
    app_module.use(relais)
    relais.hr_sync.upsert([{"id": "u1", "name": "Ana"}])  # no skills: nothing to embed
    for path in ("/health", "/profiles?q=ana", "/profiles/u1", "/questions", "/me",
                 "/openapi.json"):
        assert api.get(path).status_code == 200, path
    assert relais.embedder.inner._model is None


def test_the_reindex_command_shows_progress_and_counts(tmp_path):
    env = dict(os.environ, RELAIS_DATA_DIR=str(tmp_path), RELAIS_TOKEN_SECRET="x" * 40,
               HF_HUB_OFFLINE="1")
    from chalicelib.config import Settings
    from tests.fakes import FakeEmbedder
    relais = bootstrap(Settings(data_dir=str(tmp_path), token_secret="x" * 40,
                                index_on_write=False), embedder=FakeEmbedder())
    relais.hr_sync.upsert([{"id": "u1", "name": "Ana", "skills": ["Kafka"]}])
    for _ in range(2):
        done = subprocess.run([sys.executable, "-m", "indexer", "reindex"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr[-2000:]
        assert "1 documents indexed, 0 removed" in done.stdout
        assert "reindex" in done.stderr and "doc" in done.stderr  # the progress bar
