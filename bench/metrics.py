"""Ranking metrics of protocol routing-v1, and the spread of suggestions."""
from __future__ import annotations

import math
import random
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
        "MRR": round(sum(reciprocal_ranks(ranks)) / n, 4),
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


def reciprocal_ranks(ranks: Sequence[int | None]) -> list[float]:
    """1/rank for each question, 0 where the person is missing or beyond 100."""
    return [1 / r if r is not None and r <= 100 else 0.0 for r in ranks]


def ratio_interval(ours: Sequence[float], baseline: Sequence[float], *, resamples: int = 2000,
                   seed: int = 0, level: float = 0.95) -> tuple[float, float]:
    """A paired bootstrap interval of MRR(ours) / MRR(baseline): the questions are drawn again
    with replacement, the same draw for both, so the interval says how much of a ratio a few
    hundred test questions can tell apart from chance."""
    if len(ours) != len(baseline) or not ours:
        raise ValueError("one reciprocal rank per question, for both rankings")
    draw = random.Random(seed)
    n = len(ours)
    ratios = []
    for _ in range(resamples):
        picked = [draw.randrange(n) for _ in range(n)]
        base = sum(baseline[i] for i in picked)
        ratios.append(sum(ours[i] for i in picked) / base if base else math.inf)
    ratios.sort()
    tail = (1.0 - level) / 2.0
    return (round(ratios[int(tail * (resamples - 1))], 3),
            round(ratios[int((1.0 - tail) * (resamples - 1))], 3))
