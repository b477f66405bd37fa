"""Asking a colleague by name, and passing a relayed question on to someone who knows more."""
from __future__ import annotations

import dataclasses

import pytest

from chalicelib.auth import Caller
from chalicelib.schemas import QuestionIn
from tests.conftest import seed_people
from tests.email_kit import outbox

PEOPLE = [{"id": "asker", "name": "Ana Asker"}, {"id": "bruno", "name": "Bruno Bridge"},
          {"id": "chloe", "name": "Chloé Core"}, {"id": "dan", "name": "Dan Deep"},
          {"id": "eve", "name": "Eve Else"}, {"id": "fay", "name": "Fay Far"}]


@pytest.fixture
def team(api):
    seed_people(api.relais, [p | {"email": f"{p['id']}@example.com"} for p in PEOPLE])
    return api


def ask(api, *, anonymous=False, tags=("billing",)) -> str:
    """A question relayed to nobody yet: who gets it is what the tests decide."""
    return api.relais.questions.ask(Caller("asker"), QuestionIn(
        title="Why are invoices for Belgian customers rounded twice?", tags=list(tags),
        anonymous=anonymous), route=False).id


def relays(api, question_id) -> dict:
    return {r["expert"]["id"]: r for r in
            api.get(f"/questions/{question_id}/relays", person="asker").json["items"]}


def test_the_asker_invites_a_colleague_who_gets_it_with_the_note(team):
    question_id = ask(team)
    response = team.post(f"/questions/{question_id}/invite",
                         {"person_id": "dan", "note": "You wrote the rounding code."},
                         person="asker")
    assert response.status_code == 201
    relay = response.json
    assert (relay["expert"]["id"], relay["reason"], relay["state"]) == ("dan", "invited",
                                                                         "notified")
    assert relay["invited_by"]["name"] == "Ana Asker"
    [mine] = team.get("/relays?state=open", person="dan").json["items"]
    assert mine["question_id"] == question_id and mine["note"] == "You wrote the rounding code."
    assert mine["invited_by"]["id"] == "asker" and mine["due_at"]
    [mail] = outbox(team.relais, "relay", "dan@example.com")
    assert "Why you:\n- Ana Asker asked you by name\n" in mail["text"]
    assert "Ana Asker wrote: You wrote the rounding code." in mail["text"]
    # An answer closes the invitation like any relay.
    team.post(f"/questions/{question_id}/answers", {"body": "Two VAT passes."}, person="dan")
    assert relays(team, question_id)["dan"]["state"] == "answered"


def test_an_anonymous_asker_who_invites_stays_anonymous(team):
    question_id = ask(team, anonymous=True)
    assert team.post(f"/questions/{question_id}/invite", {"person_id": "dan"},
                     person="asker").status_code == 201
    [mine] = team.get("/relays?state=open", person="dan").json["items"]
    assert mine["invited_by"] == {"id": None, "name": None}
    assert mine["question"]["asker"] is None
    [mail] = outbox(team.relais, "relay", "dan@example.com")
    assert "Ana" not in mail["text"] and "asker@" not in mail["text"]
    assert "- A colleague asked you by name\n" in mail["text"]
    # Anyone else who invites is named.
    team.post(f"/questions/{question_id}/invite", {"person_id": "eve"}, person="bruno")
    [mail] = outbox(team.relais, "relay", "eve@example.com")
    assert "- Bruno Bridge asked you by name\n" in mail["text"]


def test_someone_relayed_a_question_passes_it_to_a_colleague_instead_of_the_next_match(team):
    question_id = ask(team)
    team.post(f"/questions/{question_id}/invite", {"person_id": "bruno"}, person="asker")
    response = team.post(f"/questions/{question_id}/handoff",
                         {"person_id": "chloe", "note": "Chloé owns invoicing."},
                         person="bruno")
    assert response.status_code == 200 and response.json["state"] == "declined"
    after = relays(team, question_id)
    assert set(after) == {"bruno", "chloe"}  # nobody else: no automatic re-route
    assert (after["chloe"]["reason"], after["chloe"]["invited_by"]["id"]) == ("handoff",
                                                                               "bruno")
    [mail] = outbox(team.relais, "relay", "chloe@example.com")
    assert "- Bruno Bridge was asked and passed it to you\n" in mail["text"]
    assert "Bruno Bridge wrote: Chloé owns invoicing." in mail["text"]
    # Passed on once, it cannot be passed on again by the same person.
    again = team.post(f"/questions/{question_id}/handoff", {"person_id": "dan"}, person="bruno")
    assert again.status_code == 409


def test_a_hand_off_that_cannot_happen_changes_nothing(team):
    question_id = ask(team)
    team.post(f"/questions/{question_id}/invite", {"person_id": "bruno"}, person="asker")
    team.patch("/profiles/chloe", {"routing_opt_out": True}, person="chloe")
    refused = team.post(f"/questions/{question_id}/handoff", {"person_id": "chloe"},
                        person="bruno")
    assert refused.status_code == 409
    assert refused.json["error"]["details"][0]["field"] == "person_id"
    assert relays(team, question_id)["bruno"]["state"] == "notified"  # still theirs
    assert set(relays(team, question_id)) == {"bruno"}
    # Only someone the question was relayed to can pass it on.
    assert team.post(f"/questions/{question_id}/handoff", {"person_id": "dan"},
                     person="eve").status_code == 404


@pytest.mark.parametrize("setup, person_id, status, message", [
    (None, "asker", 422, "they asked this question"),
    (None, "eve", 422, "you cannot invite yourself"),
    (None, "nobody", 404, "not in the directory"),
    ("relayed", "dan", 409, "already relayed"),
    ({"routing_opt_out": True}, "dan", 409, "left routing"),
    ({"away_until": "2026-01-20"}, "dan", 409, "away until 2026-01-20"),
    ({"muted_tags": ["billing"]}, "dan", 409, "not to get questions on this topic"),
    ("left", "dan", 404, "not in the directory"),
])
def test_who_cannot_be_invited_is_refused_with_the_reason(team, setup, person_id, status,
                                                          message):
    question_id = ask(team)
    if setup == "relayed":
        team.post(f"/questions/{question_id}/invite", {"person_id": "dan"}, person="bruno")
    elif setup == "left":
        team.relais.hr_sync.upsert([{"id": "dan", "name": "Dan Deep", "active": False}])
    elif setup:
        assert team.patch("/profiles/dan", setup, person="dan").status_code == 200
    before = relays(team, question_id)
    response = team.post(f"/questions/{question_id}/invite", {"person_id": person_id},
                         person="eve")
    assert response.status_code == status
    [detail] = response.json["error"]["details"]
    assert detail["field"] == "person_id" and message in detail["message"]
    assert relays(team, question_id) == before


def test_someone_with_too_many_open_questions_is_not_invited(team):
    routing = team.relais.routing
    routing.settings = dataclasses.replace(routing.settings, max_open_relays=2)
    for _ in range(2):
        team.post(f"/questions/{ask(team)}/invite", {"person_id": "dan"}, person="asker")
    response = team.post(f"/questions/{ask(team)}/invite", {"person_id": "dan"},
                         person="asker")
    assert response.status_code == 409
    assert "2 open questions" in response.json["error"]["details"][0]["message"]


def test_invitations_are_few_per_person_and_only_on_open_questions(team):
    question_id = ask(team)
    for person_id in ("bruno", "chloe", "dan"):
        assert team.post(f"/questions/{question_id}/invite", {"person_id": person_id},
                         person="eve").status_code == 201
    fourth = team.post(f"/questions/{question_id}/invite", {"person_id": "fay"}, person="eve")
    assert fourth.status_code == 409 and "3 people" in fourth.json["error"]["message"]
    assert team.post(f"/questions/{question_id}/invite", {"person_id": "fay"},
                     person="asker").status_code == 201  # another person's own three
    team.post(f"/questions/{question_id}/close", person="asker")
    closed = team.post(f"/questions/{question_id}/invite", {"person_id": "eve"},
                       person="bruno")
    assert closed.status_code == 409 and closed.json["error"]["details"][0]["field"] == "status"
    assert team.post("/questions/q-missing/invite", {"person_id": "dan"},
                     person="asker").status_code == 404


@pytest.mark.parametrize("body, field", [
    ({}, "person_id"), ({"person_id": ""}, "person_id"), ({"person_id": 7}, "person_id"),
    ({"person_id": "dan", "note": "x" * 501}, "note"), ({"person_id": "dan", "cc": "x"}, "cc"),
])
def test_an_invitation_names_the_wrong_field(team, body, field):
    question_id = ask(team)
    for path in ("invite", "handoff"):
        response = team.post(f"/questions/{question_id}/{path}", body, person="asker")
        assert response.status_code == 422
        assert field in [d["field"] for d in response.json["error"]["details"]]
