"""Routing quality, protocol routing-v1 (BENCHMARK.md): load a Stack Exchange history into a
fresh Relais through its own services, route each test question live, score the rankings.

    python -m bench.routing DATA.jsonl --out RANKINGS.jsonl [--backend embedded|opensearch]
                            [--slice test|tune] [--first FRACTION]

Prints one JSON line: Relais's metrics, and the BM25 document-vote and popularity baselines
computed in the same run on the same questions.
"""
from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import time
from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

from chalicelib.auth import Caller
from chalicelib.clock import FixedClock
from chalicelib.bootstrap import bootstrap
from chalicelib.config import Settings
from chalicelib.schemas import ProfilePatch
from chalicelib.services.history_import import (
    MAX_BODY, HistoryImport, PastAnswer, PastPerson, PastQuestion)
from chalicelib.services.routing import Draft

from .metrics import rank_of, ratio_interval, reciprocal_ranks, summarize, top3_gini

EMPTY_ANSWER = "-"  # for datasets without answer text (an answer body cannot be empty)


def load_questions(path: str) -> list[dict]:
    with open(path, encoding="utf-8") as handle:
        questions = [json.loads(line) for line in handle if line.strip()]
    return sorted(questions, key=lambda q: q["question_id"])


def split(questions: list[dict]) -> tuple[list[dict], list[dict], list[dict]]:
    n = len(questions)
    return questions[:int(0.7 * n)], questions[int(0.7 * n):int(0.8 * n)], questions[int(0.8 * n):]


def person(user_id) -> str:
    return f"u{user_id}"


def answer_counts(history: list[dict]) -> Counter:
    return Counter(a["answerer_id"] for q in history for a in q["answers"]
                   if a.get("answerer_id") is not None)


def declared_skills(history: list[dict]) -> dict:
    """Each answerer's 5 most frequent tags among the history questions they answered."""
    tags: dict = defaultdict(Counter)
    for question in history:
        for answer in question["answers"]:
            if answer.get("answerer_id") is not None:
                tags[answer["answerer_id"]].update(question["tags"])
    return {user: [t for t, _ in counter.most_common(5)] for user, counter in tags.items()}


# The data has no timestamps, only ids in creation order: the history is spread evenly over
# HISTORY_DAYS, and later questions go on at the same pace (what recency weighting reads).
START = datetime(2024, 1, 1, tzinfo=timezone.utc)
HISTORY_DAYS = 730.0


def timeline(questions: list[dict], history_size: int) -> dict:
    """When each question was asked, by its position in creation order."""
    step = timedelta(days=HISTORY_DAYS / max(1, history_size))
    return {q["question_id"]: START + i * step for i, q in enumerate(questions)}


def past_questions(history: list[dict], asked_at: dict) -> list[PastQuestion]:
    """The history in the import's terms (the data has no answer dates: an answer is dated
    with its question)."""
    return [PastQuestion(
        id=f"q{q['question_id']}", asker_id=person(q["asker_id"]), title=q["title"],
        body=q.get("body") or "", tags=tuple(q["tags"]), created_at=asked_at[q["question_id"]],
        answers=tuple(PastAnswer(id=f"a{a['answer_id']}", author_id=person(a["answerer_id"]),
                                 body=a.get("text") or EMPTY_ANSWER,
                                 created_at=asked_at[q["question_id"]])
                      for a in q["answers"] if a.get("answerer_id") is not None),
        accepted_answer_id=f"a{q['accepted_answer_id']}" if q.get("accepted_answer_id") else None)
        for q in history]


def load_history(relais, history: list[dict], asked_at: dict, log=print) -> None:
    """Import through what a real import uses (HistoryImport: HR sync, ask, answer, accept),
    declare the protocol's skills by profile edits, then one reindex (what `python -m indexer
    reindex` runs)."""
    users = sorted({q["asker_id"] for q in history if q.get("asker_id") is not None}
                   | {a["answerer_id"] for q in history for a in q["answers"]
                      if a.get("answerer_id") is not None})
    report = HistoryImport(relais.hr_sync, relais.profiles, relais.questions, relais.clock).run(
        [PastPerson(person(u), f"User {u}") for u in users], past_questions(history, asked_at))
    if report.skipped:
        log(f"import skipped {len(report.skipped)} records: {report.skipped[:3]}")
    for user, skills in declared_skills(history).items():
        relais.profiles.edit(Caller(person(user)), person(user), ProfilePatch(skills=skills))
    started = time.time()
    result = relais.indexer.reindex()
    log(f"indexed {result['documents']} documents in {time.time() - started:.0f} s")


def relais_rankings(relais, questions: list[dict], asked_at: dict) -> dict:
    rankings = {}
    for question in questions:
        relais.clock.current = asked_at[question["question_id"]]
        draft = Draft(question["title"], (question.get("body") or "")[:MAX_BODY],
                      tuple(question["tags"]))
        suggestions = relais.routing.rank(draft, person(question["asker_id"]), limit=100)
        rankings[question["question_id"]] = [s.person_id[1:] for s in suggestions]
    return rankings


def manager_chain_share(relais, questions: list[dict], rankings: dict) -> float:
    """Share of questions whose top 10 holds someone of the asker's management chain."""
    hits = 0
    for question in questions:
        chain = set(relais.profiles.management_chain(person(question["asker_id"]), 10))
        hits += bool(chain & {person(u) for u in rankings[question["question_id"]][:10]})
    return round(hits / max(1, len(questions)), 4)


def bm25_vote_rankings(history: list[dict], questions: list[dict]) -> dict:
    """The reference baseline: BM25 over history questions (title + body + tag_<t> tokens);
    the top 100 documents vote for their answerers with their BM25 score (accepted x1.5)."""
    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE docs USING fts5(text, tokenize='unicode61 remove_diacritics 2')")
    answerers = {}
    for question in history:
        tags = " ".join("tag_" + "".join(c for c in t if c.isalnum()) for t in question["tags"])
        db.execute("INSERT INTO docs (rowid, text) VALUES (?, ?)",
                   (question["question_id"], f"{question['title']} {question.get('body') or ''} {tags}"))
        answerers[question["question_id"]] = [
            (a["answerer_id"], 1.5 if a["answer_id"] == question.get("accepted_answer_id") else 1.0)
            for a in question["answers"] if a.get("answerer_id") is not None]
    rankings = {}
    for question in questions:
        words = {w for w in "".join(c.lower() if c.isalnum() else " " for c in
                                    f"{question['title']} {question.get('body') or ''}").split()}
        words |= {"tag_" + "".join(c for c in t if c.isalnum()) for t in question["tags"]}
        expression = " OR ".join('"' + w + '"' for w in words)
        votes: Counter = Counter()
        if expression:
            for rowid, rank in db.execute("SELECT rowid, bm25(docs) FROM docs WHERE docs MATCH ?"
                                          " ORDER BY rank LIMIT 100", (expression,)):
                for user, weight in answerers[rowid]:
                    votes[user] += -rank * weight
        votes.pop(question["asker_id"], None)
        rankings[question["question_id"]] = [str(u) for u, _ in sorted(
            votes.items(), key=lambda kv: (-kv[1], kv[0]))[:100]]
    return rankings


def popularity_rankings(history: list[dict], questions: list[dict]) -> dict:
    counts = answer_counts(history)
    order = [u for u, _ in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]
    return {q["question_id"]: [str(u) for u in order if u != q["asker_id"]][:100]
            for q in questions}


def ranks_of(rankings: dict, questions: list[dict]) -> list[int | None]:
    return [rank_of(rankings[q["question_id"]], str(q["accepted_answerer_id"]))
            for q in questions]


def score(rankings: dict, questions: list[dict], population) -> dict:
    result = summarize(ranks_of(rankings, questions))
    result["top3_gini"] = top3_gini(rankings.values(), population)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.routing", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data")
    parser.add_argument("--out", required=True, help="rankings file (JSON lines)")
    parser.add_argument("--backend", choices=["embedded", "opensearch"], default="embedded")
    parser.add_argument("--slice", choices=["test", "tune"], default="test",
                        help="test (the protocol's) or tune (for setting weights)")
    parser.add_argument("--first", type=float, default=1.0, metavar="FRACTION",
                        help="only the first FRACTION of the questions (e.g. 0.8): its own test "
                             "slice is a pseudo-test slice, for choosing a method without "
                             "looking at the real one")
    args = parser.parse_args(argv)
    if not 0.0 < args.first <= 1.0:
        parser.error("--first: a fraction in (0, 1]")

    log = lambda message: print(message, file=sys.stderr, flush=True)  # noqa: E731
    questions = load_questions(args.data)
    questions = questions[:int(args.first * len(questions))]
    history, tune, test = split(questions)
    counts = answer_counts(history)
    evaluated = [q for q in (test if args.slice == "test" else tune)
                 if counts.get(q["accepted_answerer_id"], 0) >= 3]
    population = [str(u) for u in counts]
    with tempfile.TemporaryDirectory() as workdir:
        # RELAIS_* variables apply (half-lives, ...), as in a deployment; storage is fresh.
        settings = Settings.from_env(data_dir=workdir, db_path=str(Path(workdir) / "bench.db"),
                                     token_secret="bench", index_on_write=False,
                                     management_chain_depth=2, backend="embedded")
        adapters = None
        if args.backend == "opensearch":
            from bench.opensearch_backend import adapters_for_bench
            adapters = adapters_for_bench(settings)
        relais = bootstrap(settings, adapters=adapters, clock=FixedClock(START))
        asked_at = timeline(questions, len(history))
        try:
            started = time.time()
            load_history(relais, history, asked_at, log)
            log(f"history loaded in {time.time() - started:.0f} s;"
                f" routing {len(evaluated)} questions")
            started = time.time()
            ranked = relais_rankings(relais, evaluated, asked_at)
            seconds = time.time() - started
            chain_share = manager_chain_share(relais, evaluated, ranked)
        finally:
            if adapters is not None:  # the bench's own OpenSearch indexes
                adapters.index.drop()
    with open(args.out, "w", encoding="utf-8") as out:
        for question in evaluated:
            out.write(json.dumps({"question_id": question["question_id"],
                                  "ranking": ranked[question["question_id"]]}) + "\n")
    site = Path(args.data).stem + (f"@{args.first:g}" if args.first < 1.0 else "")
    baseline = bm25_vote_rankings(history, evaluated)
    report = {
        "protocol": "routing-v1", "site": site, "slice": args.slice, "backend": args.backend,
        "relais": score(ranked, evaluated, population),
        "baseline_bm25_doc_vote": score(baseline, evaluated, population),
        "baseline_popularity": score(popularity_rankings(history, evaluated), evaluated,
                                     population),
        # Measured, though the data has no org chart: no asker has a chain here.
        "top10_with_manager_chain": chain_share,
        "seconds_per_question": round(seconds / max(1, len(evaluated)), 4),
    }
    report["mrr_ratio_to_bm25"] = round(
        report["relais"]["MRR"] / max(1e-9, report["baseline_bm25_doc_vote"]["MRR"]), 3)
    if evaluated and report["baseline_bm25_doc_vote"]["MRR"] > 0:
        # How far the ratio could move on another draw of as many questions.
        report["mrr_ratio_ci95"] = list(ratio_interval(
            reciprocal_ranks(ranks_of(ranked, evaluated)),
            reciprocal_ranks(ranks_of(baseline, evaluated))))
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
