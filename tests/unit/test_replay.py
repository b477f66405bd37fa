"""Replaying the latest questions under a candidate routing policy (services/replay.py)."""
from __future__ import annotations

import pytest

from chalicelib.auth import Caller
from chalicelib.errors import Forbidden, ValidationError
from chalicelib.schemas import ProfilePatch, QuestionIn
from tests.unit.test_routing import TOPICS, build_org

ADMIN = Caller("adm", "admin")


@pytest.fixture
def asked(relais):
    """The synthetic organisation, and one question per topic asked by someone in each team
    (each relayed to three people, as in production)."""
    org = build_org(relais)
    relais.hr_sync.upsert([{"id": "adm", "name": "Ada Admin"}])
    for number, person in enumerate(org[6:18]):
        relais.questions.ask(Caller(person["id"]), QuestionIn(
            title=f"Help with {TOPICS[number % len(TOPICS)]}",
            tags=[TOPICS[number % len(TOPICS)].split()[0]]))
    return org


def stored(relais) -> tuple:
    questions = relais.question_store.list_questions(limit=500).items
    relays = [r for q in questions for r in relais.question_store.relays_for_question(q.id)]
    return (len(questions), sorted((r.question_id, r.expert_id, r.state) for r in relays),
            relais.mailer.list(limit=500).total)


def test_the_policy_in_force_replays_as_it_routes(relais, asked):
    report = relais.replay.run(ADMIN, {}, questions=12)
    assert report["questions"] == 12 and report["changes"] == {}
    assert report["candidate"] == report["current"]
    assert report["questions_relayed_differently"] == 0 and report["people_changed"] == []
    assert report["current"]["relays"] == 12 * 3
    # The chain (depth 2 in force) is never asked, and the busiest are named.
    assert report["current"]["questions_relayed_above_asker"] == 0
    busiest = report["current"]["busiest"]
    assert busiest and busiest[0]["name"].startswith(("Person", "Head"))
    assert busiest == sorted(busiest, key=lambda b: -b["relays"])


def test_a_candidate_policy_shows_who_would_be_asked_and_stores_nothing(relais, asked):
    before = stored(relais)
    report = relais.replay.run(ADMIN, {"relay_count": 1, "management_chain_depth": 0},
                               questions=12)
    assert stored(relais) == before  # no question, relay or mail written
    assert report["changes"] == {"management_chain_depth": 0, "relay_count": 1}
    assert report["policy_in_force"]["relay_count"] == 3
    assert report["candidate"]["relays"] == 12
    assert report["candidate"]["people_asked"] <= report["current"]["people_asked"]
    assert report["questions_relayed_differently"] > 0
    changed = report["people_changed"]
    assert changed and all(p["candidate"] != p["current"] for p in changed)
    moves = [abs(p["candidate"] - p["current"]) for p in changed]
    assert moves == sorted(moves, reverse=True)  # the largest changes first


def test_without_the_chain_exclusion_managers_are_asked_and_it_is_counted(relais, asked):
    # Managers declare every topic, so that they are the best experts of their teams.
    for manager in ("h0", "h1", "h2", "h3", "h4", "h5"):
        relais.profiles.edit(Caller(manager), manager, ProfilePatch(skills=TOPICS))
    report = relais.replay.run(ADMIN, {"management_chain_depth": 0}, questions=12)
    assert report["current"]["questions_relayed_above_asker"] == 0
    assert report["candidate"]["questions_relayed_above_asker"] > 0
    assert report["candidate"]["share_relayed_above_asker"] == round(
        report["candidate"]["questions_relayed_above_asker"] / 12, 4)


def test_damping_off_concentrates_requests(relais, asked):
    report = relais.replay.run(ADMIN, {"open_relay_damping": 0.0, "max_open_relays": 1000},
                               questions=12)
    # Today's open relays (3 per question asked) weigh on the policy in force only.
    assert report["candidate"]["spread_gini"] > report["current"]["spread_gini"]
    assert report["questions_relayed_differently"] > 0


def test_only_admins_replay_and_unknown_settings_are_named(relais, asked):
    with pytest.raises(Forbidden):
        relais.replay.run(Caller("h7"), {"relay_count": 1})
    with pytest.raises(ValidationError) as refused:
        relais.replay.run(ADMIN, {"relay_count": 1, "embedding_model": "other"})
    assert refused.value.details == [{"field": "changes.embedding_model",
                                      "message": "unknown field"}]
