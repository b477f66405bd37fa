"""Routing through the HTTP API: suggestions while typing, relays, decline and snooze."""
from __future__ import annotations

import pytest

from chalicelib.auth import Caller
from chalicelib.schemas import AnswerIn, QuestionIn
from chalicelib.services.routing import Draft
from tests.email_kit import outbox
from tests.unit.test_routing import build_org


@pytest.fixture
def org(api):
    return build_org(api.relais)


def test_suggestions_for_a_draft_explain_themselves_and_store_nothing(api, org):
    before = api.get("/questions", person="h9").json["total"]
    response = api.post("/suggestions/experts?limit=3",
                        {"title": "kafka consumer lag", "tags": ["kafka"]}, person="h9")
    assert response.status_code == 200
    experts = response.json["experts"]
    assert 0 < len(experts) <= 3
    assert all(e["person"]["id"] != "h9" for e in experts)
    first = experts[0]
    assert {"name", "site", "languages"} <= set(first["person"])
    assert "title" not in first["person"] and "grade" not in first["person"]
    assert first["explanation"] and {"kind", "share", "matched"} <= set(first["explanation"][0])
    assert api.get("/questions", person="h9").json["total"] == before
    assert api.relais.question_store.relays_for_expert(first["person"]["id"]) == []


def test_people_suggested_only_for_being_busy_come_last_and_say_so(api, org):
    relais = api.relais
    relais.hr_sync.upsert([{"id": "busy", "name": "Busy Bee"}])
    for number in range(30):  # the most active person today, on nothing close to kafka
        question = relais.questions.ask(Caller("h1"), QuestionIn(
            title=f"Expense report number {number} refused", tags=["expenses"]), route=False)
        relais.questions.answer(Caller("busy"), question.id,
                                AnswerIn(body="Attach the receipt as a PDF."))
    draft = {"title": "kafka consumer lag", "tags": ["kafka"]}
    ranked = relais.routing.rank(Draft(draft["title"], tags=tuple(draft["tags"])), "h9",
                                 limit=100)
    on_topic = [s.on_topic for s in ranked]
    assert on_topic[0] and on_topic == sorted(on_topic, reverse=True)  # on topic first
    busy = [s for s in ranked if s.person_id == "busy"][0]
    assert busy.on_topic is False
    assert busy.score > min(s.score for s in ranked if s.on_topic)  # busyness alone
    assert busy.evidence[0].kind == "activity"
    experts = api.post("/suggestions/experts?limit=5", draft, person="h9").json["experts"]
    assert [e["person"]["id"] for e in experts] == [s.person_id for s in ranked[:5]]
    assert all(e["on_topic"] is True for e in experts)
    asked = api.post("/suggestions/experts?limit=5",
                     {"title": "expense report refused", "tags": ["expenses"]}, person="h1")
    assert {e["person"]["id"]: e["on_topic"] for e in asked.json["experts"]}["busy"] is True


def test_a_question_goes_to_people_on_its_topic_before_anyone_busy(api):
    relais = api.relais
    relais.hr_sync.upsert([{"id": "asker", "name": "Asker"},
                           {"id": "pythonist", "name": "Py", "email": "py@example.com"},
                           {"id": "busy", "name": "Busy Bee", "email": "busy@example.com"}])
    python = relais.questions.ask(Caller("asker"), QuestionIn(
        title="Python worker memory keeps growing", tags=["python"]), route=False)
    relais.questions.answer(Caller("pythonist"), python.id,
                            AnswerIn(body="Profile the Python heap with tracemalloc."))
    for number in range(10):  # busier than anyone, on nothing close to Python
        expenses = relais.questions.ask(Caller("asker"), QuestionIn(
            title=f"Expense report number {number} refused", tags=["expenses"]), route=False)
        relais.questions.answer(Caller("busy"), expenses.id,
                                AnswerIn(body="Attach the receipt as a PDF."))
    asked = api.post("/questions", {"title": "How do I profile Python memory?",
                                    "tags": ["python"]}, person="asker")
    question_id = asked.json["id"]
    relays = api.get(f"/questions/{question_id}/relays", person="asker").json["items"]
    assert [r["expert"]["id"] for r in relays] == ["pythonist"]  # not three, busy left out
    [mail] = outbox(relais, "relay", "py@example.com")  # why, in words
    why = mail["text"].split("\nWhy you:\n")[1].split("\n\n")[0].splitlines()
    assert '- you answered "Python worker memory keeps growing"' in why
    assert "- you often answer on python" in why
    assert api.post(f"/questions/{question_id}/decline", person="pythonist").status_code == 200
    after = api.get(f"/questions/{question_id}/relays", person="asker").json["items"]
    rerouted = [r for r in after if r["reason"] == "reroute"]
    # nobody on the topic is left: someone active still gets it, and is told why
    assert [r["expert"]["id"] for r in rerouted] == ["busy"]
    assert rerouted[0]["explanation"][0]["kind"] == "activity"
    [mail] = outbox(relais, "relay", "busy@example.com")
    assert ("\nWhy you:\n- someone asked before you could not take it\n"
            "- you answered questions lately\n") in mail["text"]


def test_similar_answered_questions_for_a_draft(api, org):
    response = api.post("/suggestions/questions", {"title": "postgresql query planner problem"},
                        person="h9")
    assert response.status_code == 200
    questions = response.json["questions"]
    assert questions and all(q["answer_count"] > 0 for q in questions)
    assert "postgresql" in questions[0]["title"]
    assert all("asker" not in q and "asker_id" not in q for q in questions)


def test_asking_relays_to_three_people_who_see_it_and_the_asker_follows(api, org):
    asked = api.post("/questions", {"title": "tableau dashboard filters reset", "anonymous": True},
                     person="h9")
    assert asked.status_code == 201
    question_id = asked.json["id"]
    relays = api.get(f"/questions/{question_id}/relays", person="h9").json["items"]
    assert len(relays) == 3 and {r["state"] for r in relays} == {"notified"}
    expert = relays[0]["expert"]["id"]
    mine = api.get("/relays?state=open", person=expert).json["items"]
    relayed = [r for r in mine if r["question_id"] == question_id]
    assert relayed and relayed[0]["question"]["asker"] is None  # anonymous stays anonymous
    assert api.get(f"/questions/{question_id}/relays", person=expert).status_code == 403
    answered = api.post(f"/questions/{question_id}/answers", {"body": "Use a context filter."},
                        person=expert)
    assert answered.status_code == 201
    states = {r["expert"]["id"]: r["state"] for r in
              api.get(f"/questions/{question_id}/relays", person="h9").json["items"]}
    assert states[expert] == "answered"


def test_my_relays_come_page_by_page_newest_first(api, org):
    asked = [api.post("/questions", {"title": f"kafka consumer lag, case {n}", "tags": ["kafka"]},
                      person="h9").json["id"] for n in range(4)]
    counts = {}
    for question_id in asked:
        for relay in api.get(f"/questions/{question_id}/relays", person="h9").json["items"]:
            counts[relay["expert"]["id"]] = counts.get(relay["expert"]["id"], 0) + 1
    expert = max(counts, key=lambda person: (counts[person], person))
    assert counts[expert] >= 2
    seen, cursor = [], None
    while True:
        page = api.get("/relays?limit=1" + (f"&cursor={cursor}" if cursor else ""),
                       person=expert).json
        assert len(page["items"]) == 1 and page["total"] == counts[expert]
        seen.append(page["items"][0]["question_id"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [q for q in reversed(asked) if q in seen] and len(seen) == counts[expert]
    assert page["items"][0]["question"]["title"].startswith("kafka consumer lag")
    bad = api.get("/relays?cursor=not-a-cursor", person=expert)
    assert bad.status_code == 422 and bad.json["error"]["details"][0]["field"] == "cursor"
    assert api.get("/relays?limit=101", person=expert).status_code == 422


def test_decline_and_snooze_relay_the_next_person(api, org):
    question_id = api.post("/questions", {"title": "kubernetes cluster autoscaling limits"},
                           person="h9").json["id"]
    relays = api.get(f"/questions/{question_id}/relays", person="h9").json["items"]
    first, second = relays[0]["expert"]["id"], relays[1]["expert"]["id"]
    declined = api.post(f"/questions/{question_id}/decline", person=first)
    assert declined.status_code == 200 and declined.json["state"] == "declined"
    assert api.post(f"/questions/{question_id}/decline", person=first).status_code == 409
    snoozed = api.post(f"/questions/{question_id}/snooze", {"hours": 4}, person=second)
    assert snoozed.status_code == 200 and snoozed.json["state"] == "snoozed"
    after = api.get(f"/questions/{question_id}/relays", person="h9").json["items"]
    assert len(after) == 5
    assert [r["reason"] for r in after[3:]] == ["reroute", "reroute"]


@pytest.mark.parametrize("path, body, status, field", [
    ("/questions/{q}/snooze", {"hours": 0}, 422, "hours"),
    ("/questions/{q}/snooze", {"hours": 24 * 365}, 422, "hours"),
    ("/questions/{q}/snooze", {"days": 1}, 422, "days"),
    ("/suggestions/experts", {"title": "x" * 301}, 422, "title"),
    ("/suggestions/experts", {"title": "ok", "tags": ["two words"]}, 422, "tags[0]"),
])
def test_routing_input_errors_name_the_field(api, org, path, body, status, field):
    question_id = api.post("/questions", {"title": "kafka consumer lag"}, person="h9").json["id"]
    response = api.post(path.format(q=question_id), body, person="h2")
    assert response.status_code == status
    assert field in [d["field"] for d in response.json["error"]["details"]]


def test_declining_a_question_not_relayed_to_you_is_404(api, org):
    question_id = api.post("/questions", {"title": "kafka consumer lag"}, person="h9").json["id"]
    relayed = {r["expert"]["id"] for r in
               api.get(f"/questions/{question_id}/relays", person="h9").json["items"]}
    outsider = next(p["id"] for p in org if p["id"] not in relayed | {"h9"})
    response = api.post(f"/questions/{question_id}/decline", person=outsider)
    assert response.status_code == 404
    assert api.get("/relays?state=bogus", person="h9").status_code == 422


def test_the_outbox_is_for_admins_and_hides_anonymous_askers(api, org):
    api.relais.hr_sync.upsert([{"id": p["id"], "name": p["name"],
                                "email": f"{p['id']}@example.com"} for p in org])
    api.post("/questions", {"title": "vat on training invoices", "anonymous": True}, person="h9")
    assert api.get("/admin/outbox", person="h9").status_code == 403
    assert api.get("/admin/outbox", person="h9", role="hr").status_code == 403
    mails = api.get("/admin/outbox?limit=50", person="h1", role="admin").json["items"]
    relay_mails = [m for m in mails if m["kind"] == "relay"]
    assert len(relay_mails) == 3
    assert all("Person 9" not in m["text"] and "h9@" not in m["text"] for m in relay_mails)


def test_an_admin_replays_a_candidate_policy_over_http(api, org):
    api.relais.hr_sync.upsert([{"id": "adm", "name": "Ada Admin"}])
    response = api.post("/admin/routing/replay", {"changes": {"relay_count": 2}, "questions": 10},
                        person="adm", role="admin")
    assert response.status_code == 200, response.json
    report = response.json
    assert report["questions"] == 10 and report["changes"] == {"relay_count": 2}
    assert (report["current"]["relays"], report["candidate"]["relays"]) == (30, 20)
    assert api.relais.question_store.relays_for_expert(report["current"]["busiest"][0]["id"]) == []


@pytest.mark.parametrize("body, field", [
    ({"changes": {"relay_count": 0}}, "changes.relay_count"),
    ({"changes": {"relay_count": "3"}}, "changes.relay_count"),
    ({"changes": {"embedding_model": "x"}}, "changes.embedding_model"),
    ({"changes": {"open_relay_damping": -1}}, "changes.open_relay_damping"),
    ({"questions": 101}, "questions"),
    ({"changes": []}, "changes"),
])
def test_replay_errors_name_the_field(api, org, body, field):
    response = api.post("/admin/routing/replay", body, person="adm", role="admin")
    assert response.status_code == 422
    assert [d["field"] for d in response.json["error"]["details"]] == [field]
