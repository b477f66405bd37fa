"""HR sync: POST /hr/profiles, an idempotent bulk upsert with a report per item."""
from __future__ import annotations

import copy

import pytest

from tests.conftest import seed_people

HR = {"person": "hr1", "role": "hr"}


@pytest.fixture
def hr(api):
    seed_people(api.relais, [{"id": "hr1", "name": "Hana Ressources", "department": "HR"}])
    return api


def sync(api, profiles, **who):
    return api.post("/hr/profiles", {"profiles": profiles}, **(who or HR))


def statuses(response) -> list[str]:
    return [item["status"] for item in response.json["items"]]


TEAM = [
    {"id": "e1", "name": "Ana Lima", "email": "ana@example.com", "title": "Engineer",
     "grade": "E2", "department": "Platform", "manager_id": "m1", "site": "Paris",
     "languages": ["pt", "en"], "skills": ["Go"], "user_name": "ana"},
    {"id": "m1", "name": "Marc Chef", "email": "marc@example.com", "title": "Head of Platform"},
    {"id": "e2", "name": "Zoé Zhang", "email": "zoe@example.com", "manager_id": "m1"},
]


def test_a_batch_creates_people_with_a_report(hr):
    response = sync(hr, TEAM)
    assert response.status_code == 200
    assert response.json["counts"] == {"created": 3, "updated": 0, "unchanged": 0, "error": 0}
    assert [(i["id"], i["status"]) for i in response.json["items"]] == [
        ("e1", "created"), ("m1", "created"), ("e2", "created")]
    card = hr.get("/profiles/e1", person="e2").json
    assert card["title"] == "Engineer" and card["department"] == "Platform"
    assert card["languages"] == ["pt", "en"] and card["skills"] == ["Go"]
    assert card["manager_id"] == "m1"  # a manager that appears later in the batch


def test_the_same_payload_twice_changes_nothing(hr):
    sync(hr, TEAM)
    before = {p["id"]: hr.get(f"/profiles/{p['id']}").json for p in TEAM}
    again = sync(hr, copy.deepcopy(TEAM))
    assert again.status_code == 200
    assert statuses(again) == ["unchanged"] * 3
    assert again.json["counts"]["unchanged"] == 3
    after = {p["id"]: hr.get(f"/profiles/{p['id']}").json for p in TEAM}
    assert after == before
    assert all(card["version"] == 1 for card in after.values())


def test_a_changed_person_is_updated_and_only_them(hr):
    sync(hr, TEAM)
    changed = copy.deepcopy(TEAM)
    changed[2]["title"] = "Senior Engineer"
    response = sync(hr, changed)
    assert statuses(response) == ["unchanged", "unchanged", "updated"]
    card = hr.get("/profiles/e2").json
    assert card["title"] == "Senior Engineer" and card["version"] == 2


def test_what_the_person_wrote_survives_a_sync(hr):
    sync(hr, TEAM)
    hr.patch("/profiles/e2", {"bio": "I love SQL", "skills": ["SQL"], "site": "Remote"},
             person="e2")
    response = sync(hr, TEAM)  # this feed says nothing of e2's site, bio or skills
    assert statuses(response) == ["unchanged"] * 3
    card = hr.get("/profiles/e2").json
    assert (card["bio"], card["skills"], card["site"]) == ("I love SQL", ["SQL"], "Remote")


def test_hr_seeds_skills_once_then_the_person_owns_them(hr):
    sync(hr, TEAM)
    hr.patch("/profiles/e1", {"skills": ["Go", "Rust"]}, person="e1")
    changed = copy.deepcopy(TEAM)
    changed[0]["skills"] = ["COBOL"]
    assert statuses(sync(hr, changed))[0] == "unchanged"
    assert hr.get("/profiles/e1").json["skills"] == ["Go", "Rust"]


def test_a_bad_item_is_reported_with_its_field_and_the_others_are_applied(hr):
    batch = [{"id": "p0", "name": "Zero"},
             {"id": "p1", "name": "One", "nickname": "uno"},
             {"id": "p2", "name": "Two", "languages": ["fr", "not a language"]},
             {"id": "p3", "name": "Three", "email": "not-an-email"},
             {"id": "p4"},
             "not an object",
             {"id": "p0", "name": "Zero again"},
             {"id": "p7", "name": "Seven", "active": "maybe"},
             {"id": "p8", "name": "x" * 201}]
    response = sync(hr, batch)
    assert response.status_code == 200
    report = response.json["items"]
    assert report[0] == {"id": "p0", "status": "created"}
    fields = {index: [e["field"] for e in item["errors"]]
              for index, item in enumerate(report) if item["status"] == "error"}
    assert fields == {1: ["profiles[1].nickname"], 2: ["profiles[2].languages[1]"],
                      3: ["profiles[3].email"], 4: ["profiles[4].name"], 5: ["profiles[5]"],
                      6: ["profiles[6].id"], 7: ["profiles[7].active"],
                      8: ["profiles[8].name"]}
    assert report[1]["id"] == "p1" and report[5]["id"] is None
    assert response.json["counts"] == {"created": 1, "updated": 0, "unchanged": 0, "error": 8}
    assert hr.get("/profiles/p0").json["name"] == "Zero"
    assert hr.get("/profiles/p3").status_code == 404


def test_a_taken_user_name_is_reported_on_its_item(hr):
    response = sync(hr, [{"id": "a", "name": "A", "user_name": "same"},
                         {"id": "b", "name": "B", "user_name": "SAME"}])
    assert statuses(response) == ["created", "error"]
    assert response.json["items"][1]["errors"][0]["field"] == "profiles[1].user_name"
    assert hr.get("/profiles/b").status_code == 404


def test_a_manager_nowhere_to_be_found_is_an_error(hr):
    response = sync(hr, [{"id": "a", "name": "A", "manager_id": "ghost"}])
    assert statuses(response) == ["error"]
    assert response.json["items"][0]["errors"][0]["field"] == "profiles[0].manager_id"


def test_a_management_cycle_within_a_batch_is_refused(hr):
    response = sync(hr, [{"id": "a", "name": "A", "manager_id": "b"},
                         {"id": "b", "name": "B", "manager_id": "c"},
                         {"id": "c", "name": "C", "manager_id": "a"},
                         {"id": "d", "name": "D", "manager_id": "d"},
                         {"id": "e", "name": "E", "manager_id": "a"}])
    assert statuses(response)[:4] == ["error"] * 4
    for index in range(4):
        assert response.json["items"][index]["errors"][0]["field"] == \
            f"profiles[{index}].manager_id"
    for pid in "abcd":
        assert hr.get(f"/profiles/{pid}").status_code == 404


def test_a_management_cycle_through_stored_people_is_refused(hr):
    sync(hr, [{"id": "boss", "name": "Boss"},
              {"id": "mid", "name": "Mid", "manager_id": "boss"},
              {"id": "low", "name": "Low", "manager_id": "mid"}])
    response = sync(hr, [{"id": "boss", "name": "Boss", "manager_id": "low"}])
    assert statuses(response) == ["error"]
    assert response.json["items"][0]["errors"][0]["field"] == "profiles[0].manager_id"
    assert hr.get("/profiles/boss").json["manager_id"] is None
    # Left out of an item, a stored manager still counts: mid keeps reporting to boss.
    response = sync(hr, [{"id": "mid", "name": "Mid"},
                         {"id": "boss", "name": "Boss", "manager_id": "mid"}])
    assert statuses(response) == ["unchanged", "error"]


def test_moving_a_whole_team_in_one_batch_is_not_a_cycle(hr):
    sync(hr, [{"id": "a", "name": "A"}, {"id": "b", "name": "B", "manager_id": "a"}])
    # b becomes a's manager and a stops reporting to... a's new manager is nobody.
    response = sync(hr, [{"id": "b", "name": "B", "manager_id": None},
                         {"id": "a", "name": "A", "manager_id": "b"}])
    assert statuses(response) == ["updated", "updated"]
    assert hr.get("/profiles/a").json["manager_id"] == "b"
    assert hr.get("/profiles/b").json["manager_id"] is None


def test_a_thousand_profiles_per_request(hr):
    batch = [{"id": f"p{n:04d}", "name": f"Person {n}"} for n in range(1000)]
    response = sync(hr, batch)
    assert response.status_code == 200
    assert response.json["counts"]["created"] == 1000
    assert hr.get("/profiles?limit=1").json["total"] == 1001  # with hr1


def test_a_thousand_and_one_is_too_many_and_nothing_is_applied(hr):
    batch = [{"id": f"p{n:04d}", "name": f"Person {n}"} for n in range(1001)]
    response = sync(hr, batch)
    assert response.status_code == 413
    assert response.json["error"]["code"] == "payload_too_large"
    assert response.json["error"]["details"][0]["field"] == "profiles"
    assert hr.get("/profiles/p0000").status_code == 404


@pytest.mark.parametrize("body,field", [({}, "profiles"), ({"profiles": {}}, "profiles"),
                                        ({"profiles": [], "extra": 1}, "extra")])
def test_the_envelope_is_checked(hr, body, field):
    response = hr.post("/hr/profiles", body, **HR)
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == field


def test_leavers_are_hidden_from_search_but_keep_their_profile_and_answers(hr):
    sync(hr, TEAM)
    asked = hr.post("/questions", {"title": "How do I deploy to the cluster?"}, person="e2")
    question_id = asked.json["id"]
    answered = hr.post(f"/questions/{question_id}/answers", {"body": "kubectl apply"},
                       person="e1")
    assert answered.status_code == 201
    leaver = copy.deepcopy(TEAM[0])
    leaver["active"] = False
    assert statuses(sync(hr, [leaver])) == ["updated"]
    assert hr.get("/profiles?q=ana", person="e2").json["items"] == []
    assert "e1" not in [p["id"] for p in hr.get("/profiles?skill=go").json["items"]]
    assert "e1" not in [p["id"] for p in hr.get("/profiles?limit=100").json["items"]]
    card = hr.get("/profiles/e1", person="e2")
    assert card.status_code == 200 and card.json["active"] is False
    answer = hr.get(f"/questions/{question_id}", person="e2").json["answers"][0]
    assert answer["author"] == {"id": "e1", "name": "Ana Lima", "active": False}
    assert answer["author_id"] == "e1"
    # Coming back makes them findable again.
    assert statuses(sync(hr, TEAM))[0] == "updated"
    assert [p["id"] for p in hr.get("/profiles?q=ana").json["items"]] == ["e1"]


def test_a_leaver_can_no_longer_ask_or_answer(hr):
    sync(hr, TEAM)
    question_id = hr.post("/questions", {"title": "Anyone?"}, person="e2").json["id"]
    leaver = dict(TEAM[0], active=False)
    sync(hr, [leaver])
    assert hr.post("/questions", {"title": "Still here?"}, person="e1").status_code == 403
    assert hr.post(f"/questions/{question_id}/answers", {"body": "yes"},
                   person="e1").status_code == 403
