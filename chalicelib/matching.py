"""Pure ranking: fuse evidence, aggregate it per person, apply the routing policy, explain.

No I/O here, and nothing about rank: the policy's input type (`Candidate`) has no title,
grade or level field, so a person's position in the hierarchy cannot influence a ranking.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from .domain import normalize_skill
from .ports import EvidenceDoc, Hit


@dataclass(frozen=True)
class Weights:
    """The ranking's few parameters (set on the tune slice of the routing benchmark)."""

    bm25: float = 1.0  # weight of the lexical list in the fusion
    knn: float = 1.0  # weight of the semantic list in the fusion
    rrf_k: float = 60.0  # reciprocal-rank-fusion constant
    accepted: float = 1.5  # an accepted answer counts this much more
    skills: float = 1.0  # a declared-skills document
    bio: float = 0.7
    decay: float = 0.5  # the i-th piece of evidence of a person counts decay**i (diminishing)
    tag_match: float = 1.0  # inferred expertise on the question's tags
    activity: float = 0.0  # log(1 + answers) prior


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class Candidate:
    """What the routing policy knows of a person. Deliberately no title, grade or level."""

    person_id: str
    routing_opt_out: bool = False
    away: bool = False
    open_relays: int = 0


@dataclass
class Evidence:
    """One reason a person was suggested, and how much it counted."""

    kind: str  # skills | bio | answer
    doc_id: str
    weight: float
    question_id: str | None = None
    accepted: bool = False
    text: str = ""
    matched: list[str] = field(default_factory=list)  # matched skills or tags

    def as_dict(self) -> dict:
        return {"kind": self.kind, "doc_id": self.doc_id, "weight": round(self.weight, 4),
                "question_id": self.question_id, "accepted": self.accepted,
                "text": self.text, "matched": self.matched}


@dataclass
class Suggestion:
    """A person suggested for a question, with the evidence that counted."""

    person_id: str
    score: float
    evidence: list[Evidence]
    damped_by_load: bool = False


@dataclass(frozen=True)
class Policy:
    """Who may not be suggested, and how load is spread."""

    excluded: frozenset[str] = frozenset()  # the asker and their management chain
    open_relay_damping: float = 0.15
    max_open_relays: int = 10


def fuse(bm25_hits: Sequence[Hit], knn_hits: Sequence[Hit],
         weights: Weights = DEFAULT_WEIGHTS) -> dict[str, tuple[EvidenceDoc, float]]:
    """Reciprocal-rank fusion of the two lists: robust to their incomparable score scales."""
    fused: dict[str, tuple[EvidenceDoc, float]] = {}
    for hits, weight in ((bm25_hits, weights.bm25), (knn_hits, weights.knn)):
        if weight <= 0:
            continue
        for position, hit in enumerate(hits):
            doc, score = fused.get(hit.doc.id, (hit.doc, 0.0))
            fused[hit.doc.id] = (doc, score + weight / (weights.rrf_k + position + 1))
    return fused


def _doc_weight(doc: EvidenceDoc, weights: Weights) -> float:
    if doc.kind == "skills":
        return weights.skills
    if doc.kind == "bio":
        return weights.bio
    return weights.accepted if doc.accepted else 1.0


def matched_terms(doc: EvidenceDoc, query_tags: Iterable[str], query_text: str) -> list[str]:
    """The skills or tags of `doc` that the question names, for the explanation."""
    wanted = {normalize_skill(t) for t in query_tags}
    text = " " + normalize_skill(query_text) + " "
    if doc.kind == "skills":
        skills = [s for s in doc.text.split("; ") if s]
        return [s for s in skills
                if normalize_skill(s) in wanted or f" {normalize_skill(s)} " in text]
    return [t for t in doc.tags if normalize_skill(t) in wanted]


def aggregate(fused: dict[str, tuple[EvidenceDoc, float]], *, query_tags: Sequence[str] = (),
              query_text: str = "", weights: Weights = DEFAULT_WEIGHTS,
              tag_expertise: dict[str, float] | None = None,
              activity: dict[str, int] | None = None) -> list[Suggestion]:
    """Per person: sum of evidence with diminishing returns (best first, each next one counts
    `decay` times the previous), plus inferred expertise on the question's tags."""
    by_person: dict[str, list[Evidence]] = {}
    for doc_id, (doc, score) in fused.items():
        by_person.setdefault(doc.person_id, []).append(Evidence(
            kind=doc.kind, doc_id=doc_id, weight=score * _doc_weight(doc, weights),
            question_id=doc.question_id, accepted=doc.accepted, text=doc.text[:200],
            matched=matched_terms(doc, query_tags, query_text)))
    people = set(by_person) | set(tag_expertise or {})
    suggestions = []
    for person in people:
        items = sorted(by_person.get(person, []), key=lambda e: -e.weight)
        for position, item in enumerate(items):
            item.weight *= weights.decay ** position
        score = sum(item.weight for item in items)
        score += weights.tag_match * (tag_expertise or {}).get(person, 0.0)
        if weights.activity and activity:
            score *= 1.0 + weights.activity * math.log1p(activity.get(person, 0))
        suggestions.append(Suggestion(person, score, items))
    suggestions.sort(key=lambda s: (-s.score, s.person_id))
    return suggestions


def apply_policy(suggestions: Sequence[Suggestion], candidates: dict[str, Candidate],
                 policy: Policy) -> list[Suggestion]:
    """Drop excluded, opted-out, away and overloaded people (and anyone unknown: only
    `candidates` may be suggested); damp people who already hold open relays."""
    kept = []
    for suggestion in suggestions:
        person = candidates.get(suggestion.person_id)
        if (person is None or person.person_id in policy.excluded or person.routing_opt_out
                or person.away or person.open_relays >= policy.max_open_relays):
            continue
        if person.open_relays:
            suggestion.score /= 1.0 + policy.open_relay_damping * person.open_relays
            suggestion.damped_by_load = True
        kept.append(suggestion)
    kept.sort(key=lambda s: (-s.score, s.person_id))
    return kept


def explain(suggestion: Suggestion, max_items: int = 3) -> list[dict]:
    """The evidence that counted most, each with its share of the score."""
    total = sum(e.weight for e in suggestion.evidence) or 1.0
    shown = []
    for item in suggestion.evidence[:max_items]:
        data = item.as_dict()
        data["share"] = round(item.weight / total, 3)
        shown.append(data)
    return shown
