"""Inferred expertise (services/expertise.py) and muted tags, which routing respects."""
from __future__ import annotations

import pytest

from chalicelib.auth import Caller
from chalicelib.errors import NotFound
from chalicelib.schemas import AnswerIn, ProfilePatch, QuestionIn
from chalicelib.services.expertise import skill_key
from chalicelib.services.routing import Draft
from tests.conftest import seed_people


def ask_and_answer(relais, title: str, tags: list[str], answerer: str, accept: bool = False):
    question = relais.questions.ask(Caller("asker"), QuestionIn(title=title, tags=tags),
                                    route=False)
    answer = relais.questions.answer(Caller(answerer), question.id, AnswerIn(body="Like this."))
    if accept:
        relais.questions.accept(Caller("asker"), question.id, answer.id)
    return question


@pytest.fixture
def answered(relais, clock):
    seed_people(relais, [{"id": "asker", "name": "Asker"}, {"id": "kim", "name": "Kim"},
                         {"id": "lou", "name": "Lou"}])
    relais.profiles.edit(Caller("kim"), "kim", ProfilePatch(skills=["Kafka", "Opérations"]))
    ask_and_answer(relais, "Old kafka consumer lag", ["kafka", "ops", "operations"], "kim")
    clock.advance(days=400)
    ask_and_answer(relais, "Kafka topic retention", ["kafka"], "kim", accept=True)
    ask_and_answer(relais, "Postgres vacuum stalls", ["postgres", "ops"], "kim")
    ask_and_answer(relais, "Postgres index bloat", ["postgres"], "lou")
    return relais


def test_expertise_is_read_from_answers_with_recency_and_acceptance(answered, clock):
    seen = answered.expertise.of("kim")
    assert seen["declared"] == ["Kafka", "Opérations"] and seen["muted"] == []
    by_tag = {e["tag"]: e for e in seen["inferred"]}
    assert set(by_tag) == {"kafka", "ops", "operations", "postgres"}
    assert by_tag["operations"]["declared"]  # case and accents aside, the declared skill
    assert (by_tag["kafka"]["answers"], by_tag["kafka"]["accepted"]) == (2, 1)
    assert (by_tag["ops"]["answers"], by_tag["ops"]["accepted"]) == (2, 0)
    assert by_tag["kafka"]["declared"] and not by_tag["postgres"]["declared"]
    # As routing's tag expertise reads it: an answer of today counts 1, one of 400 days ago
    # 0.5 ** (400 / 220), accepted or not.
    assert by_tag["kafka"]["weight"] == pytest.approx(1 + 0.5 ** (400 / 220), abs=1e-3)
    assert by_tag["ops"]["weight"] == by_tag["kafka"]["weight"]
    assert by_tag["postgres"]["weight"] == pytest.approx(1.0, abs=1e-3)
    assert [e["tag"] for e in seen["inferred"]] == ["kafka", "ops", "postgres", "operations"]
    assert by_tag["kafka"]["last_answered_at"].startswith(clock.now().date().isoformat())
    assert answered.expertise.of("lou")["inferred"][0]["tag"] == "postgres"


def test_nobody_unknown_has_expertise(answered):
    with pytest.raises(NotFound):
        answered.expertise.of("ghost")


def test_a_muted_tag_keeps_its_questions_away_from_the_person(answered):
    draft = Draft("postgres vacuum never finishes", tags=("postgres",))
    assert "kim" in {s.person_id for s in answered.routing.rank(draft, "asker", limit=10)}
    answered.profiles.edit(Caller("kim"), "kim", ProfilePatch(muted_tags=["Postgres"]))
    assert answered.expertise.of("kim")["muted"] == ["postgres"]  # tags are read lower-case
    assert "kim" not in {s.person_id for s in answered.routing.rank(draft, "asker", limit=10)}
    # Untagged, or tagged otherwise, the same words still reach Kim.
    assert "kim" in {s.person_id for s in answered.routing.rank(
        Draft("postgres vacuum never finishes"), "asker", limit=10)}
    question = answered.questions.ask(Caller("asker"), QuestionIn(
        title="Postgres vacuum never finishes", tags=["postgres"]))
    relayed = {r.expert_id for r in answered.question_store.relays_for_question(question.id)}
    assert relayed and "kim" not in relayed
    marked = {e["tag"]: e["muted"] for e in answered.expertise.of("kim")["inferred"]}
    assert marked == {"kafka": False, "ops": False, "operations": False, "postgres": True}


def test_a_tag_is_a_declared_skill_whatever_its_case_accents_or_hyphens():
    assert skill_key("appels-d'offres") == skill_key("Appels d'Offres")
    assert skill_key("Comptabilité") == skill_key("comptabilite")
    assert skill_key("machine_learning") == skill_key("Machine  learning")
    assert skill_key("c++") != skill_key("c")
