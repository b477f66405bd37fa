"""Do the embedded and OpenSearch backends suggest the same people for the same data?

    python -m bench.parity DATA.jsonl [--questions 300]

Loads the history once (SQLite records + embedded index), copies the same evidence
documents and vectors into a fresh OpenSearch index, routes the tune and test questions on
both, and prints one JSON line: mean overlap@10 of the two rankings and each backend's MRR.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import uuid

import numpy as np

from chalicelib.adapters.opensearch_index import OpenSearchIndex
from chalicelib.bootstrap import bootstrap, opensearch_client
from chalicelib.clock import FixedClock
from chalicelib.config import Settings

from .metrics import rank_of, summarize
from .routing import (START, answer_counts, load_history, load_questions, relais_rankings, split,
                      timeline)


def copy_index(embedded, target: OpenSearchIndex, batch: int = 1000) -> int:
    """Every evidence document of the embedded index, vectors included, into `target`."""
    docs = embedded.all_docs()
    for start in range(0, len(docs), batch):
        target.upsert(docs[start:start + batch])
    return len(docs)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.parity", description=__doc__)
    parser.add_argument("data")
    parser.add_argument("--questions", type=int, default=300,
                        help="how many tune+test questions to route on both")
    args = parser.parse_args(argv)
    questions = load_questions(args.data)
    history, tune, test = split(questions)
    counts = answer_counts(history)
    routed = [q for q in tune + test if counts.get(q["accepted_answerer_id"], 0) >= 3]
    routed = routed[::max(1, len(routed) // args.questions)][:args.questions]
    with tempfile.TemporaryDirectory() as workdir:
        settings = Settings(data_dir=workdir, db_path=f"{workdir}/parity.db", token_secret="p",
                            index_on_write=False)
        relais = bootstrap(settings, clock=FixedClock(START))
        asked_at = timeline(questions, len(history))
        load_history(relais, history, asked_at, lambda m: print(m, file=sys.stderr))
        embedded = relais.index
        remote = OpenSearchIndex(opensearch_client(Settings.from_env()),
                                 f"relais-parity-{uuid.uuid4().hex[:8]}",
                                 half_life_days=settings.recency_half_life_days,
        activity_half_life_days=settings.activity_half_life_days)
        documents = copy_index(embedded, remote)
        local_rankings = relais_rankings(relais, routed, asked_at)
        relais.routing.index = remote
        remote_rankings = relais_rankings(relais, routed, asked_at)
        remote.drop()
    overlaps = [len(set(local_rankings[q["question_id"]][:10])
                    & set(remote_rankings[q["question_id"]][:10])) / 10 for q in routed]

    def mrr(rankings):
        return summarize([rank_of(rankings[q["question_id"]], str(q["accepted_answerer_id"]))
                          for q in routed])["MRR"]

    print(json.dumps({"site": args.data.rsplit("/", 1)[-1].split(".")[0],
                      "documents": documents, "questions": len(routed),
                      "mean_overlap_at_10": round(float(np.mean(overlaps)), 4),
                      "mrr_embedded": mrr(local_rankings), "mrr_opensearch": mrr(remote_rankings)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
