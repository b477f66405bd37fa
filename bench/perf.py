"""Performance figures (BENCHMARK.md §2), one JSON line each, each with its baseline.

    python -m bench.perf [--scales 1000,10000,100000] [--skip query,indexing,cold,package]

Synthetic data: bench.synthetic with seed 42.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from chalicelib import evidence
from chalicelib.bootstrap import bootstrap
from chalicelib.config import Settings
from chalicelib.domain import Answer, Profile, Question
from chalicelib.services.routing import Draft

from .synthetic import SUBJECTS, company, question_pool

SEED = 42


def emit(figure: dict) -> None:
    print(json.dumps(figure), flush=True)


def percentile(values, q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def populate(relais, people: int) -> int:
    """Profiles into the store; evidence documents straight into the index (batched), as a
    reindex would write them. Returns the number of documents."""
    batch: list = []
    count = 0
    indexer = relais.indexer

    def flush():
        nonlocal batch, count
        relais.index.upsert(indexer._with_vectors(batch))
        count += len(batch)
        batch = []

    for item in company(people, seed=SEED):
        if item[0] == "person":
            _, person_id, skills = item
            profile = relais.profile_store.add(Profile(
                id=person_id, name=f"Person {person_id}", skills=skills,
                manager_id=f"s{int(person_id[1:]) // 10}" if person_id != "s0" else None))
            batch += [(doc, None) for doc in evidence.profile_docs(profile)]
        else:
            _, answer_id, person_id, question_text, answer_text, tags, accepted = item
            question = Question(id="q" + answer_id, asker_id="s0", title=question_text, tags=tags)
            answer = Answer(id=answer_id, question_id=question.id, author_id=person_id,
                            body=answer_text, accepted=accepted)
            batch.append((evidence.answer_doc(question, answer), question))
        if len(batch) >= 2048:
            flush()
    if batch:
        flush()
    return count


def query_latency(people: int, queries: int = 60) -> dict:
    with tempfile.TemporaryDirectory() as workdir:
        relais = bootstrap(Settings(data_dir=workdir, db_path=f"{workdir}/perf.db",
                                    token_secret="perf", index_on_write=False))
        started = time.time()
        documents = populate(relais, people)
        load_seconds = time.time() - started
        rng = random.Random(SEED + 1)
        texts = [f"{q} ({rng.choice(SUBJECTS)} {i})" for i, q in
                 enumerate(question_pool(queries + 5, rng))]  # distinct: no embedding cache hit
        embedder = relais.embedder.inner
        for text in texts[:5]:  # warm up: model load, matrix load, SQLite cache
            relais.routing.suggest_experts(Draft(text), "s15", 5)
        route, embed_only = [], []
        for text in texts[5:]:
            start = time.perf_counter()
            embedder.embed([text + " x"])
            embed_only.append(time.perf_counter() - start)
            start = time.perf_counter()
            relais.routing.suggest_experts(Draft(text), "s15", 5)
            route.append(time.perf_counter() - start)
    return {"figure": "query_latency", "people": people, "documents": documents,
            "p50_ms": round(1000 * statistics.median(route), 1),
            "p95_ms": round(1000 * percentile(route, 0.95), 1),
            "baseline": "embedding the query alone",
            "baseline_p50_ms": round(1000 * statistics.median(embed_only), 1),
            "ratio_p50": round(statistics.median(route) / statistics.median(embed_only), 2),
            "load_seconds": round(load_seconds, 1), "seed": SEED}


def indexing_throughput(people: int = 1000) -> dict:
    """Full reindex vs plain SentenceTransformer.encode of the same texts, one profile at a
    time (the naive way: no batching across profiles, every repeated text embedded again)."""
    from sentence_transformers import SentenceTransformer

    from chalicelib.adapters.embedders import model_dir
    from chalicelib.auth import Caller
    from chalicelib.schemas import AnswerIn, ProfilePatch, QuestionIn

    with tempfile.TemporaryDirectory() as workdir:
        relais = bootstrap(Settings(data_dir=workdir, db_path=f"{workdir}/perf.db",
                                    token_secret="perf", index_on_write=False))
        questions: dict[str, str] = {}
        for item in company(people, answers_per_person=2.0, seed=SEED):
            if item[0] == "person":
                relais.hr_sync.upsert([{"id": item[1], "name": f"Person {item[1]}"}])
                relais.profiles.edit(Caller(item[1]), item[1], ProfilePatch(skills=item[2]))
            else:
                _, answer_id, person_id, text, answer_text, tags, _ = item
                if text not in questions:
                    questions[text] = relais.questions.ask(
                        Caller("s0"), QuestionIn(title=text[:300], tags=[]), route=False).id
                relais.questions.answer(Caller(person_id), questions[text],
                                        AnswerIn(body=answer_text))
        per_profile: dict[str, list[str]] = {}
        for doc, question in relais.indexer._all_docs():
            per_profile.setdefault(doc.person_id, []).extend(
                evidence.embedding_text(doc, question))
        model = SentenceTransformer(model_dir("all-MiniLM-L6-v2"), device="cpu")
        model.encode(["warm up"])
        texts = sum(len(t) for t in per_profile.values())
        start = time.perf_counter()
        for profile_texts in per_profile.values():
            model.encode(profile_texts, normalize_embeddings=True)
        naive = time.perf_counter() - start
        relais.embedder.inner._model = model  # same loaded model: time indexing, not loading
        start = time.perf_counter()
        result = relais.indexer.reindex()
        ours = time.perf_counter() - start
    return {"figure": "reindex_throughput", "people": people, "documents": result["documents"],
            "texts": texts, "docs_per_s": round(result["documents"] / ours, 1),
            "baseline": "SentenceTransformer.encode one profile at a time",
            "baseline_docs_per_s": round(result["documents"] / naive, 1),
            "ratio": round(naive / ours, 2), "seed": SEED}


COLD_SUGGEST = """
import json, time, sys
start = time.time()
from chalice.test import Client
import app
from chalicelib.bootstrap import bootstrap
from chalicelib.config import Settings
relais = bootstrap(Settings.from_env())
app.use(relais)
relais.hr_sync.upsert([{{"id": "a", "name": "A"}}, {{"id": "b", "name": "B"}}])
token = relais.tokens.issue("a")
with Client(app.app) as client:
    response = client.http.{method}("{path}", headers={{"Authorization": "Bearer " + token,
        "Content-Type": "application/json"}}, {body})
assert response.status_code == 200, response.body
print(json.dumps({{"seconds": time.time() - start, "torch": "torch" in sys.modules}}))
"""


def cold_start() -> list[dict]:
    figures = []
    for name, method, path, body in (
            ("health", "get", "/health", ""),
            ("expert_suggestion", "post", "/suggestions/experts",
             'body=json.dumps({"title": "How do I tune PostgreSQL autovacuum?"})')):
        with tempfile.TemporaryDirectory() as workdir:
            env = dict(os.environ, RELAIS_DATA_DIR=workdir, RELAIS_TOKEN_SECRET="cold-start-secret",
                       HF_HUB_OFFLINE="1")
            start = time.time()
            out = subprocess.run([sys.executable, "-c", COLD_SUGGEST.format(
                method=method, path=path, body=body)], env=env, capture_output=True, text=True,
                check=True, cwd=Path(__file__).resolve().parent.parent)
            wall = time.time() - start
            result = json.loads(out.stdout.strip().splitlines()[-1])
            figures.append({"figure": "cold_start", "endpoint": name,
                            "seconds": round(wall, 2), "loaded_torch": result["torch"]})
    subprocess.run([sys.executable, "-c", "pass"], check=True)  # warm the file cache first
    start = time.time()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    empty = time.time() - start
    for figure in figures:
        figure["baseline"] = "an empty Python process"
        figure["baseline_seconds"] = round(empty, 3)
    return figures


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.perf", description=__doc__)
    parser.add_argument("--scales", default="1000,10000,100000")
    parser.add_argument("--skip", default="")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    if "cold" not in skip:
        for figure in cold_start():
            emit(figure)
    if "indexing" not in skip:
        emit(indexing_throughput())
    if "query" not in skip:
        for people in map(int, args.scales.split(",")):
            emit(query_latency(people))
    return 0


if __name__ == "__main__":
    sys.exit(main())
