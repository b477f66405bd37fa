"""Shared fixtures: a fresh Relais on an in-memory SQLite database, and an HTTP client."""
from __future__ import annotations

import json

import pytest
from chalice.test import Client

import app as app_module
from chalicelib.bootstrap import bootstrap
from chalicelib.clock import FixedClock
from chalicelib.config import Settings
from tests.fakes import FakeEmbedder

TEST_SECRET = "test-secret-for-relais-tokens-0123456789"
MOTO_REGION = "eu-west-1"


@pytest.fixture
def moto_aws(monkeypatch):
    """AWS services mocked by moto in eu-west-1, with fake credentials; the adapters' cached
    boto3 clients are made anew inside the mock (one made outside would reach AWS)."""
    from moto import mock_aws

    from chalicelib.adapters.mail import aws_client

    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", MOTO_REGION)
    with mock_aws():
        aws_client.cache_clear()
        yield
    aws_client.cache_clear()


def make_settings(tmp_path, **overrides) -> Settings:
    return Settings(db_path=":memory:", data_dir=str(tmp_path), token_secret=TEST_SECRET,
                    **overrides)


@pytest.fixture
def clock():
    return FixedClock()


@pytest.fixture
def embedder():
    """A deterministic stand-in for the model; tests of the real model use `real_embedder`."""
    return FakeEmbedder()


@pytest.fixture(scope="session")
def real_embedder():
    """all-MiniLM-L6-v2, loaded once for the whole test session."""
    from chalicelib.adapters.embedders import CachingEmbedder, SentenceTransformerEmbedder
    return CachingEmbedder(SentenceTransformerEmbedder())


@pytest.fixture
def relais(tmp_path, clock, embedder):
    return bootstrap(make_settings(tmp_path), clock=clock, embedder=embedder)


class Api:
    """The Chalice test client with JSON bodies and bearer tokens filled in."""

    def __init__(self, client: Client, relais):
        self.client = client
        self.relais = relais

    def headers(self, person: str | None, role: str = "employee", extra=None) -> dict:
        headers = {"Content-Type": "application/json"}
        if person:
            headers["Authorization"] = "Bearer " + self.relais.tokens.issue(person, role)
        headers.update(extra or {})
        return headers

    def call(self, method: str, path: str, body=None, *, person: str | None = "u1",
             role: str = "employee", raw: bytes | str | None = None, headers=None):
        payload = raw if raw is not None else (json.dumps(body) if body is not None else None)
        response = getattr(self.client.http, method.lower())(
            path, headers=self.headers(person, role, headers), body=payload)
        response.json = json.loads(response.body) if response.body else None
        return response

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def post(self, path, body=None, **kw):
        return self.call("POST", path, body, **kw)

    def patch(self, path, body=None, **kw):
        return self.call("PATCH", path, body, **kw)

    def put(self, path, body=None, **kw):
        return self.call("PUT", path, body, **kw)

    def delete(self, path, **kw):
        return self.call("DELETE", path, **kw)


@pytest.fixture
def api(relais):
    app_module.use(relais)
    with Client(app_module.app) as client:
        yield Api(client, relais)


def seed_people(relais, people: list[dict]) -> None:
    """Create people through HR sync, the way a real deployment gets them."""
    report = relais.hr_sync.upsert(people)
    assert report["counts"]["error"] == 0, report


def _node(command: str) -> str:
    import subprocess
    from pathlib import Path

    script = Path(__file__).resolve().parent.parent / "scripts" / "opensearch-node"
    done = subprocess.run([str(script), command], capture_output=True, text=True, timeout=900)
    if done.returncode != 0:
        raise RuntimeError(f"scripts/opensearch-node {command} failed:\n{done.stderr[-3000:]}")
    return done.stdout.strip()


@pytest.fixture(scope="session")
def opensearch_node():
    """A real OpenSearch node (scripts/opensearch-node): started if it is not running.
    Tests needing it fail, not skip, when it cannot start; RELAIS_SKIP_OPENSEARCH=1 skips
    them explicitly."""
    import os
    if os.environ.get("RELAIS_SKIP_OPENSEARCH") == "1":
        pytest.skip("RELAIS_SKIP_OPENSEARCH=1")
    _node("start")

    class Node:
        url = _node("url").splitlines()[-1]

        @staticmethod
        def stop():
            _node("stop")

        @staticmethod
        def start():
            _node("start")

    return Node


@pytest.fixture
def opensearch_index(opensearch_node):
    """An empty index (and people index) of its own on the node, deleted afterwards."""
    import uuid

    from opensearchpy import OpenSearch

    from chalicelib.adapters.opensearch_index import OpenSearchIndex

    client = OpenSearch(hosts=[opensearch_node.url], timeout=60)
    index = OpenSearchIndex(client, f"relais-test-{uuid.uuid4().hex[:10]}", backoff_seconds=0.2)
    yield index
    index.drop()
