"""Pure ranking: fuse evidence, aggregate it per person, apply the routing policy, explain.

No I/O here, and nothing about rank: the policy's input type (`Candidate`) has no title,
grade or level field, so a person's position in the hierarchy cannot influence a ranking.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Iterable, Sequence

from .clock import parse_time
from .domain import normalize_skill
from .ports import EvidenceDoc, Hit, PersonMatches, TagExpertise


@dataclass(frozen=True)
class Weights:
    """The ranking's few parameters, chosen on the tune and pseudo-test slices of the routing
    benchmark (never its test slice).

    Six signals, each divided by its largest value among the candidates, then weighted and
    added.
    Four read single pieces of evidence or counts: lexical evidence (BM25 over answers with
    their questions, skills and bios), semantic evidence (questions close in meaning that the
    person answered), inferred expertise on the question's tags, and recent activity. Two read
    each person as a whole: their profile document (all their answers as one text, BM25) and
    their topics vector (the mean meaning of what they answered). Evidence fades with a
    half-life.
    """

    # Set on the tune and pseudo-test slices of both benchmark sites together, one weight at
    # a time (0.5 to 2, then 3 around the best; near these values MRR moves by under 1 %):
    # recent activity and the profile document count double, semantic evidence half.
    text: float = 1.0
    semantic: float = 0.5
    tags: float = 1.0
    activity: float = 2.0
    profile: float = 2.0
    topics: float = 1.0
    accepted: float = 1.5  # an accepted answer counts this much more
    # A declared skill list or bio is a claim, an answer is a proof: one such document counts
    # this much of an answer of today (unweighted, a skill list close to every question on
    # its topics crowds out the answers among the top documents).
    declared: float = 0.1
    half_life_days: float = 220.0
    # Activity is read against the most active candidate's: log1p(knee * amount / most).
    # Amounts all shrink while a company is quiet, and log1p of small amounts is a straight
    # line: read as they are, the signal's shape would depend on the calendar.
    activity_knee: float = 20.0
    # Recent activity adds to what ties a person to the question, it never makes an expert
    # alone: people less than min_topical_share of whose score is evidence on the question,
    # or whose evidence on it is less than min_topical_of_best of the best candidate's (a
    # word in common, "profile" in a recruiter's answer for "how do I profile memory"), come
    # after everyone suggested for what they wrote or declared, unless their declared skills
    # name the question. Evidence by meaning counts as on the question only from
    # `close_in_meaning` (cosine; the embedding model's scale, Settings.similar_min_cosine):
    # every text is a little close to every other. On the benchmark's selection slices the
    # two moves MRR by 0.1 % at most (there, nearly everyone near the top has evidence on the
    # question); in a company they keep the merely busy from being relayed questions outside
    # their field.
    min_topical_share: float = 0.2
    min_topical_of_best: float = 0.1
    close_in_meaning: float = 0.35
    bm25_docs: int = 200  # top-K evidence documents by BM25
    knn_questions: int = 100  # top-K distinct similar questions (or profiles) by meaning
    people: int = 400  # top-K people by profile document, and by topics vector


DEFAULT_WEIGHTS = Weights()


@dataclass(frozen=True)
class Candidate:
    """What the routing policy knows of a person. Deliberately no title, grade or level."""

    person_id: str
    routing_opt_out: bool = False
    away: bool = False
    away_until: str | None = None  # the day they are back, when known (to say so)
    open_relays: int = 0
    muted_tags: frozenset[str] = frozenset()  # the person asked not to get questions so tagged


@dataclass
class Evidence:
    """One reason a person was suggested, and how much it counted."""

    kind: str  # skills | bio | answer | tags (inferred expertise) | activity | profile | topics
    doc_id: str  # the evidence document, "" for tags and activity
    weight: float
    question_id: str | None = None
    accepted: bool = False
    text: str = ""
    matched: list[str] = field(default_factory=list)  # matched skills or tags
    signals: dict[str, float] = field(default_factory=dict)  # raw value per signal

    def as_dict(self) -> dict:
        return {"kind": self.kind, "doc_id": self.doc_id or None,
                "weight": round(self.weight, 4),
                "question_id": self.question_id, "accepted": self.accepted,
                "text": self.text, "matched": self.matched}


@dataclass
class Suggestion:
    """A person suggested for a question, with the evidence that counted."""

    person_id: str
    score: float
    evidence: list[Evidence]
    damped_by_load: bool = False
    # Suggested for what they wrote or declared, not mostly for being active (Weights).
    on_topic: bool = True


def rank_order(suggestion: Suggestion) -> tuple:
    """Best first: people on the question's topic, then by score (ties by id)."""
    return (not suggestion.on_topic, -suggestion.score, suggestion.person_id)


@dataclass(frozen=True)
class Policy:
    """Who may not be suggested, and how load is spread."""

    excluded: frozenset[str] = frozenset()  # the asker and their management chain
    tags: frozenset[str] = frozenset()  # the question's, read against people's muted tags
    open_relay_damping: float = 0.15
    max_open_relays: int = 10


def recency(created_at: str, now: datetime, half_life_days: float) -> float:
    """0.5 ** (age / half-life); evidence of unknown age counts fully."""
    moment = parse_time(created_at)
    if moment is None:
        return 1.0
    age_days = max(0.0, (now - moment).total_seconds() / 86400.0)
    return 0.5 ** (age_days / half_life_days)


def _doc_weight(doc: EvidenceDoc, weights: Weights, now: datetime) -> float:
    """Answers: accepted ones count more, old ones less. Declared skills and bios are current,
    and count less than an answer."""
    if doc.kind != "answer":
        return weights.declared
    return (weights.accepted if doc.accepted else 1.0) * recency(doc.created_at, now,
                                                                  weights.half_life_days)


def matched_terms(doc: EvidenceDoc, query_tags: Iterable[str], query_text: str) -> list[str]:
    """The skills or tags of `doc` that the question names, for the explanation."""
    wanted = {normalize_skill(t) for t in query_tags}
    text = " " + normalize_skill(query_text) + " "
    if doc.kind == "skills":
        skills = [s for s in doc.text.split("; ") if s]
        return [s for s in skills
                if normalize_skill(s) in wanted or f" {normalize_skill(s)} " in text]
    return [t for t in doc.tags if normalize_skill(t) in wanted]


def _semantic_hits(knn_hits: Sequence[Hit], questions: int) -> list[Hit]:
    """The hits of the first `questions` distinct questions (a profile document counts as
    one): answers share their question's vector, so K documents would be fewer questions."""
    seen: set[str] = set()
    kept = []
    for hit in knn_hits:
        key = hit.doc.question_id or hit.doc.id
        if key not in seen:
            if len(seen) >= questions:
                continue
            seen.add(key)
        kept.append(hit)
    return kept


# How the two whole-person signals are explained.
WHOLE_PERSON_TEXT = {"profile": "their answers, taken together, use the question's words",
                     "topics": "their answers, taken together, are on close topics"}


def score_people(bm25_hits: Sequence[Hit], knn_hits: Sequence[Hit], expertise: TagExpertise,
                 activity: dict[str, float], *, now: datetime,
                 whole: PersonMatches = PersonMatches({}, {}), query_tags: Sequence[str] = (),
                 query_text: str = "", weights: Weights = DEFAULT_WEIGHTS) -> list[Suggestion]:
    """Rank people by the six signals of `Weights`, keeping the evidence behind each."""
    signals: dict[str, dict[str, float]] = {
        name: {} for name in ("text", "semantic", "tags", "activity", "profile", "topics")}
    evidence: dict[str, dict[str, Evidence]] = {}
    # The parts of the meaning signals that come from evidence not close in meaning, and the
    # people whose declared skills the question names.
    remote: dict[str, dict[str, float]] = {"semantic": {}, "topics": {}}
    named: set[str] = set()

    def add(signal: str, hit: Hit, value: float) -> None:
        person = hit.doc.person_id
        signals[signal][person] = signals[signal].get(person, 0.0) + value
        if signal in remote and hit.score < weights.close_in_meaning:
            remote[signal][person] = remote[signal].get(person, 0.0) + value
        item = evidence.setdefault(person, {}).get(hit.doc.id)
        if item is None:
            item = evidence[person][hit.doc.id] = Evidence(
                kind=hit.doc.kind, doc_id=hit.doc.id, weight=0.0, question_id=hit.doc.question_id,
                accepted=hit.doc.accepted, text=hit.doc.text[:200],
                matched=matched_terms(hit.doc, query_tags, query_text))
            if item.kind == "skills" and item.matched:
                named.add(person)
        item.signals[signal] = item.signals.get(signal, 0.0) + value

    for hit in bm25_hits:
        add("text", hit, max(hit.score, 0.0) * _doc_weight(hit.doc, weights, now))
    for hit in _semantic_hits(knn_hits, weights.knn_questions):
        add("semantic", hit, max(hit.score, 0.0) * _doc_weight(hit.doc, weights, now))
    for person, per_tag in expertise.people.items():
        # A person's weight on a tag over the square root of everyone's: between a share
        # (where a tag one person answered once makes them its whole expert) and a count
        # (where the busiest people win every tag).
        strength = {t: w / math.sqrt(expertise.totals[t]) for t, w in per_tag.items()
                    if expertise.totals.get(t)}
        if strength:
            signals["tags"][person] = sum(strength.values())
            ordered = sorted(strength, key=lambda t: -strength[t])
            evidence.setdefault(person, {})["tags"] = Evidence(
                kind="tags", doc_id="", weight=0.0, matched=ordered,
                signals={"tags": signals["tags"][person]},
                # Shares, not amounts: faded with time, amounts read 0.0 after a quiet spell.
                text="share of the answers on " + ", ".join(
                    f"{t}: {per_tag[t] / expertise.totals[t]:.0%}" for t in ordered))
    most = max(activity.values(), default=0.0)
    for person, amount in activity.items():
        if amount > 0:
            signals["activity"][person] = math.log1p(weights.activity_knee * amount / most)
    for name, values in (("profile", whole.profile), ("topics", whole.topics)):
        for person, value in values.items():
            if value > 0:
                signals[name][person] = value
                if name in remote and value < weights.close_in_meaning:
                    remote[name][person] = value
                evidence.setdefault(person, {})[name] = Evidence(
                    kind=name, doc_id="", weight=0.0, text=WHOLE_PERSON_TEXT[name],
                    signals={name: value})
    scale = {name: getattr(weights, name) / max(values.values())
             for name, values in signals.items() if values and max(values.values()) > 0}
    # What does not tie a person to the question: activity, and meaning from afar.
    aside = {person: value * scale.get("activity", 0.0)
             for person, value in signals["activity"].items()}
    for name, part in remote.items():
        for person, value in part.items():
            aside[person] = aside.get(person, 0.0) + value * scale.get(name, 0.0)
    scores = {person: sum(values.get(person, 0.0) * scale.get(name, 0.0)
                          for name, values in signals.items())
              for person in set().union(*signals.values())}
    # What ties each person to the question, and the most that ties anyone to it.
    topical = {person: score - aside.get(person, 0.0) for person, score in scores.items()}
    best_topical = max(topical.values(), default=0.0)
    suggestions = []
    for person, score in scores.items():
        items = list(evidence.get(person, {}).values())
        for item in items:
            item.weight = sum(v * scale.get(name, 0.0) for name, v in item.signals.items())
        if person in signals["activity"] and scale.get("activity"):
            # Said against the most active, as it is read: a raw amount of faded answers
            # ("0.0 answers") would say nothing after a quiet spell or of imported history.
            items.append(Evidence(kind="activity", doc_id="",
                                  text=f"recently active: {activity[person] / most:.0%} of the "
                                       "busiest answerer's pace",
                                  weight=signals["activity"][person] * scale["activity"]))
        items.sort(key=lambda e: (-e.weight, e.doc_id))
        on_topic = ((topical[person] >= weights.min_topical_share * score
                     and topical[person] >= weights.min_topical_of_best * best_topical)
                    or person in named)
        suggestions.append(Suggestion(person, score, items, on_topic=on_topic))
    suggestions.sort(key=rank_order)
    return suggestions


def fuse_documents(bm25_hits: Sequence[Hit], knn_hits: Sequence[Hit],
                   rrf_k: float = 60.0) -> dict[str, tuple[EvidenceDoc, float]]:
    """Reciprocal-rank fusion of two document lists (for similar questions)."""
    fused: dict[str, tuple[EvidenceDoc, float]] = {}
    for hits in (bm25_hits, knn_hits):
        for position, hit in enumerate(hits):
            doc, score = fused.get(hit.doc.id, (hit.doc, 0.0))
            fused[hit.doc.id] = (doc, score + 1.0 / (rrf_k + position + 1))
    return fused


def unavailable(person: Candidate, policy: Policy) -> str | None:
    """Why a question may not be relayed to `person`, in words (None: it may): they left
    routing, are away, muted one of its tags or hold too many open questions. Ranking skips
    such people; a colleague who names them by hand is told why."""
    if person.routing_opt_out:
        return "they left routing: they take no questions"
    if person.away:
        return f"they are away until {person.away_until}" if person.away_until \
            else "they are away"
    if person.muted_tags & policy.tags:
        return "they asked not to get questions on this topic"
    if person.open_relays >= policy.max_open_relays:
        return f"they already have {person.open_relays} open questions"
    return None


def apply_policy(suggestions: Sequence[Suggestion], candidates: dict[str, Candidate],
                 policy: Policy) -> list[Suggestion]:
    """Drop excluded and unavailable people (and anyone unknown: only `candidates` may be
    suggested); damp people who already hold open relays."""
    kept = []
    for suggestion in suggestions:
        person = candidates.get(suggestion.person_id)
        if (person is None or person.person_id in policy.excluded
                or unavailable(person, policy)):
            continue
        if person.open_relays:
            suggestion.score /= 1.0 + policy.open_relay_damping * person.open_relays
            suggestion.damped_by_load = True
        kept.append(suggestion)
    kept.sort(key=rank_order)
    return kept


def explain(suggestion: Suggestion, max_items: int = 3) -> list[dict]:
    """The evidence that counted most, each with its share of the score: the `max_items`
    heaviest pieces that tie the person to the question, and their recent activity if it
    counted (it says who answers, not on what: it must neither hide the reasons nor be
    hidden by them)."""
    total = sum(e.weight for e in suggestion.evidence) or 1.0
    on_topic = [e for e in suggestion.evidence if e.kind != "activity"][:max_items]
    shown = []
    for item in sorted(on_topic + [e for e in suggestion.evidence if e.kind == "activity"],
                       key=lambda e: (-e.weight, e.doc_id)):
        data = item.as_dict()
        data["share"] = round(item.weight / total, 3)
        shown.append(data)
    return shown
