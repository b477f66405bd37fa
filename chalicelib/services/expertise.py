"""Inferred expertise: what Relais reads from a person's answers, shown to them and to all."""
from __future__ import annotations

import re

from ..domain import normalize_skill
from ..matching import Weights, recency
from ..ports import Clock, QuestionStore
from .profiles import ProfileService

MAX_ANSWERS = 2_000  # a bound on one request: the most prolific are read by their latest answers
MAX_TAGS = 30


def skill_key(text: str) -> str:
    """A tag and a declared skill are the same when they differ only by case, accents, or
    hyphens for spaces ("appels-d'offres" is the skill "Appels d'offres")."""
    return normalize_skill(re.sub(r"[-_]+", " ", text))


class ExpertiseService:
    """What Relais infers a person knows from the answers they wrote — per tag of the questions
    they answered: how many answers, how many accepted, the last one, and the weight routing
    gives that tag today (each answer faded by its age, as the index's tag expertise that
    matching reads; acceptance is shown, it does not weigh there) — beside what
    they declared and the tags they asked never to be relayed. Expertise is visible: anyone in
    the directory may read it; the person changes it through their profile (declare a tag as
    a skill, or mute it)."""

    def __init__(self, questions: QuestionStore, directory: ProfileService, clock: Clock,
                 weights: Weights):
        self.questions = questions
        self.directory = directory
        self.clock = clock
        self.weights = weights

    def of(self, person_id: str) -> dict:
        profile = self.directory.get(person_id)
        now = self.clock.now()
        per_tag: dict[str, dict] = {}
        answers = self.questions.answers_by(person_id)[-MAX_ANSWERS:]
        asked = self.questions.get_questions(a.question_id for a in answers)
        for answer in answers:
            question = asked.get(answer.question_id)
            if question is None:
                continue
            accepted = answer.accepted
            weight = recency(answer.created_at, now, self.weights.half_life_days)
            for tag in question.tags:
                entry = per_tag.setdefault(tag, {"tag": tag, "answers": 0, "accepted": 0,
                                                 "last_answered_at": "", "weight": 0.0})
                entry["answers"] += 1
                entry["accepted"] += accepted
                entry["last_answered_at"] = max(entry["last_answered_at"], answer.created_at)
                entry["weight"] += weight
        declared = {skill_key(skill) for skill in profile.skills}
        muted = set(profile.muted_tags)
        inferred = sorted(per_tag.values(), key=lambda e: (-e["weight"], e["tag"]))[:MAX_TAGS]
        for entry in inferred:
            entry["weight"] = round(entry["weight"], 3)
            entry["declared"] = skill_key(entry["tag"]) in declared
            entry["muted"] = entry["tag"] in muted
        return {"person_id": profile.id, "declared": profile.skills, "muted": profile.muted_tags,
                "inferred": inferred, "half_life_days": self.weights.half_life_days}
