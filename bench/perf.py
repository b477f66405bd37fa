"""Performance figures (BENCHMARK.md §2), one JSON line each, each with its baseline.

    python -m bench.perf [--scales 1000,10000,100000] [--skip query,indexing,cold,package]
                         [--steps]

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


def add_profiles(store, profiles: list[Profile]) -> list[Profile]:
    """`store.add` for many new profiles in one transaction: the store's own checks and row
    writer, one commit per batch instead of one per profile."""
    from chalicelib.adapters.sqlite_store import SQLiteProfileStore
    from chalicelib.errors import Conflict

    if not isinstance(store, SQLiteProfileStore):
        return [store.add(profile) for profile in profiles]
    stored = []
    with store.db.transaction() as conn:
        for profile in profiles:
            record = profile.replace(version=1)
            if conn.execute("SELECT 1 FROM profiles WHERE id = ?", (profile.id,)).fetchone():
                raise Conflict(f"profile {profile.id!r} already exists")
            store._check_user_name(conn, record)
            store._write_row(conn, record)
            stored.append(record)
    return stored


def populate(relais, people: int, *, bulk: bool = True, batch_docs: int = 2048) -> int:
    """Profiles into the store; evidence documents straight into the index (batched), as a
    reindex would write them. `bulk` writes profiles many per transaction (add_profiles);
    without it, one `profile_store.add` each. Returns the number of documents."""
    profiles: list[Profile] = []
    batch: list = []
    count = 0
    indexer = relais.indexer

    def flush():
        nonlocal profiles, batch, count
        if profiles:
            stored = (add_profiles(relais.profile_store, profiles) if bulk else
                      [relais.profile_store.add(profile) for profile in profiles])
            batch = [(doc, None) for profile in stored
                     for doc in evidence.profile_docs(profile)] + batch
            profiles = []
        relais.index.upsert(indexer._with_vectors(batch))
        count += len(batch)
        batch = []

    for item in company(people, seed=SEED):
        if item[0] == "person":
            _, person_id, skills = item
            profiles.append(Profile(
                id=person_id, name=f"Person {person_id}", skills=skills,
                manager_id=f"s{int(person_id[1:]) // 10}" if person_id != "s0" else None))
        else:
            _, answer_id, person_id, question_text, answer_text, tags, accepted = item
            question = Question(id="q" + answer_id, asker_id="s0", title=question_text, tags=tags)
            answer = Answer(id=answer_id, question_id=question.id, author_id=person_id,
                            body=answer_text, accepted=accepted)
            batch.append((evidence.answer_doc(question, answer), question))
        if len(profiles) + len(batch) >= batch_docs:
            flush()
    if profiles or batch:
        flush()
    return count


class StepTimer:
    """Wall time per named step, exclusive of the timed steps nested in it (bm25 minus the
    document loading it calls), per query. Wraps methods on instances, so no code changes."""

    def __init__(self):
        self.stack: list[list] = []  # [name, start, time spent in nested steps]
        self.current: dict[str, float] = {}
        self.queries: list[dict[str, float]] = []
        self.patched: list[tuple[object, str, object]] = []

    def wrap(self, owner, attribute: str, name: str) -> None:
        original = getattr(owner, attribute)

        def timed(*args, **kwargs):
            self.stack.append([name, time.perf_counter(), 0.0])
            try:
                return original(*args, **kwargs)
            finally:
                _, begun, nested = self.stack.pop()
                spent = time.perf_counter() - begun
                self.current[name] = self.current.get(name, 0.0) + spent - nested
                if self.stack:
                    self.stack[-1][2] += spent

        self.patched.append((owner, attribute, owner.__dict__.get(attribute, _MISSING)))
        setattr(owner, attribute, timed)

    def unwrap(self) -> None:
        for owner, attribute, before in reversed(self.patched):
            if before is _MISSING:
                delattr(owner, attribute)
            else:
                setattr(owner, attribute, before)
        self.patched = []

    def query(self, run) -> None:
        self.current = {}
        start = time.perf_counter()
        run()
        total = time.perf_counter() - start
        self.current["other (untimed python: explanations, views...)"] = (
            total - sum(self.current.values()))
        self.current["total"] = total
        self.queries.append(self.current)

    def summary(self) -> dict[str, dict[str, float]]:
        names = dict.fromkeys(n for q in self.queries for n in q)
        out = {}
        for name in names:
            values = [q.get(name, 0.0) for q in self.queries]
            out[name] = {"p50_ms": round(1000 * statistics.median(values), 1),
                         "p95_ms": round(1000 * percentile(values, 0.95), 1),
                         "mean_ms": round(1000 * statistics.fmean(values), 1)}
        return out


_MISSING = object()


def breakdown(relais, texts: list[str], tags: bool) -> dict:
    """Where a routing's time goes: each port call the ranking makes, timed."""
    from chalicelib import matching

    timer = StepTimer()
    index, routing = relais.index, relais.routing
    steps = [(routing.embedder, "embed", "embed query"),
             (index, "bm25", "bm25: evidence documents"),
             (index, "knn", "knn: rest (refresh, lock)"),
             (getattr(index, "_docs", None), "top", "knn: document matrix scan"),
             (index, "_load_docs", "load hit documents"),
             (index, "people", "people: profile documents (bm25)"),
             (getattr(index, "_people", None), "top", "people: topics matrix scan"),
             (index, "tag_expertise", "tag_expertise"), (index, "activity", "activity"),
             (routing.profiles, "get_many", "profiles.get_many"),
             (routing.questions, "open_relay_counts", "open_relay_counts"),
             (routing.questions, "get_question", "question titles"),
             (routing.directory, "management_chain", "management chain"),
             (matching, "score_people", "matching.score_people"),
             (matching, "apply_policy", "matching.apply_policy")]
    for owner, attribute, name in steps:
        if owner is not None and hasattr(owner, attribute):
            timer.wrap(owner, attribute, name)
    try:
        for text in texts:
            words = [s for s in SUBJECTS if s in text][:3] if tags else []
            timer.query(lambda: routing.suggest_experts(Draft(text, tags=tuple(words)), "s15", 5))
    finally:
        timer.unwrap()
    return timer.summary()


def query_latency(people: int, queries: int = 100, steps: bool = False) -> list[dict]:
    """Routing latency, then (separately, so neither disturbs the other) embedding the same
    number of distinct queries alone, back to back: the baseline."""
    with tempfile.TemporaryDirectory() as workdir:
        relais = bootstrap(Settings(data_dir=workdir, db_path=f"{workdir}/perf.db",
                                    token_secret="perf", index_on_write=False))
        started = time.time()
        documents = populate(relais, people)
        load_seconds = time.time() - started
        rng = random.Random(SEED + 1)
        texts = [f"{q} ({rng.choice(SUBJECTS)} {i})" for i, q in
                 enumerate(question_pool(3 * queries + 5, rng))]  # distinct: no cache hit
        embedder = relais.embedder.inner
        for text in texts[:5]:  # warm up: model load, matrix load, SQLite cache
            relais.routing.suggest_experts(Draft(text), "s15", 5)
        route, embed_only = [], []
        for text in texts[5:5 + queries]:
            start = time.perf_counter()
            relais.routing.suggest_experts(Draft(text), "s15", 5)
            route.append(time.perf_counter() - start)
        for text in texts[5:5 + queries]:
            start = time.perf_counter()
            embedder.embed([text + " x"])
            embed_only.append(time.perf_counter() - start)
        figures = [{
            "figure": "query_latency", "people": people, "documents": documents,
            "queries": queries, "p50_ms": round(1000 * statistics.median(route), 1),
            "p95_ms": round(1000 * percentile(route, 0.95), 1),
            "baseline": "embedding the query alone",
            "baseline_p50_ms": round(1000 * statistics.median(embed_only), 1),
            "baseline_p95_ms": round(1000 * percentile(embed_only, 0.95), 1),
            "ratio_p50": round(statistics.median(route) / statistics.median(embed_only), 2),
            "ratio_p95": round(percentile(route, 0.95) / percentile(embed_only, 0.95), 2),
            "load_seconds": round(load_seconds, 1), "seed": SEED}]
        if steps:
            rest = texts[5 + queries:]
            for tags, chunk in ((False, rest[:queries]), (True, rest[queries:])):
                figures.append({"figure": "query_steps", "people": people, "tags": tags,
                                "queries": len(chunk), "steps": breakdown(relais, chunk, tags)})
    return figures


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
    parser.add_argument("--steps", action="store_true",
                        help="also time each step of routing (query_steps figures)")
    args = parser.parse_args(argv)
    skip = set(filter(None, args.skip.split(",")))
    if "cold" not in skip:
        for figure in cold_start():
            emit(figure)
    if "indexing" not in skip:
        emit(indexing_throughput())
    if "query" not in skip:
        for people in map(int, args.scales.split(",")):
            for figure in query_latency(people, steps=args.steps):
                emit(figure)
    return 0


if __name__ == "__main__":
    sys.exit(main())
