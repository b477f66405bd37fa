"""Ranking metrics of protocol routing-v1, and the spread of suggestions."""
from __future__ import annotations

import math
from collections import Counter
from typing import Iterable, Sequence

from chalicelib.services.figures import gini  # the product reports the same spread


def rank_of(ranking: Sequence[str], wanted: str) -> int | None:
    """1-based position of `wanted` in `ranking`, or None."""
    try:
        return list(ranking).index(wanted) + 1
    except ValueError:
        return None


def summarize(ranks: Sequence[int | None]) -> dict:
    """MRR, Hit@1/5/10 and NDCG@10 for one relevant person per question."""
    n = len(ranks) or 1
    found = [r for r in ranks if r is not None and r <= 100]
    return {
        "MRR": round(sum(1 / r for r in found) / n, 4),
        "Hit@1": round(sum(r <= 1 for r in found) / n, 4),
        "Hit@5": round(sum(r <= 5 for r in found) / n, 4),
        "Hit@10": round(sum(r <= 10 for r in found) / n, 4),
        "NDCG@10": round(sum(1 / math.log2(r + 1) for r in found if r <= 10) / n, 4),
        "questions": len(ranks),
    }


def top3_gini(rankings: Iterable[Sequence[str]], population: Iterable[str]) -> float:
    """How evenly the top-3 suggestions spread over all candidates (zeros included)."""
    counts = Counter(person for ranking in rankings for person in ranking[:3])
    return gini(counts.get(person, 0) for person in population)
