"""Privacy: export all my data, delete me (answers stay, from a "former colleague"), and an
audit log of admin and HR actions that never says who asked an anonymous question."""
from __future__ import annotations

import json

import pytest

from tests.api.test_communities import ADMIN, PEOPLE, fields_of, make_community
from tests.conftest import seed_people


@pytest.fixture
def world(api):
    """u1 asked a question (qid) and an anonymous one (anon), answered u3's question (theirs),
    voted, joined a community, manages it... and was thanked there."""
    seed_people(api.relais, PEOPLE + [
        {"id": "u7", "name": "Gus Grateful", "email": "gus@example.com", "skills": ["kafka"],
         "site": "Nantes", "department": "Ops", "employee_number": "E-77"}])
    api.patch("/profiles/u7", {"bio": "Kafka operator"}, person="u7")
    cid = make_community(api)
    api.post(f"/communities/{cid}/membership", person="u7")
    api.put(f"/communities/{cid}/roles/u5", {"role": "manager"}, **ADMIN)
    qid = api.post("/questions", {"title": "Where are the build logs?", "community_id": cid},
                   person="u7").json["id"]
    anon = api.post("/questions", {"title": "Is my salary fair?", "anonymous": True},
                    person="u7").json["id"]
    theirs = api.post("/questions", {"title": "kafka consumer lag", "community_id": cid},
                      person="u3").json["id"]
    mine = api.post(f"/questions/{theirs}/answers", {"body": "Add consumers."},
                    person="u7").json["id"]
    api.post(f"/questions/{theirs}/accept", {"answer_id": mine}, person="u3")
    other = api.post(f"/questions/{qid}/answers", {"body": "In CI."}, person="u2").json["id"]
    api.post(f"/answers/{other}/vote", {"value": 1}, person="u7")
    theirs2 = api.post("/questions", {"title": "kafka rebalancing", "community_id": cid},
                       person="u3").json["id"]
    mine2 = api.post(f"/questions/{theirs2}/answers", {"body": "Static membership."},
                     person="u7").json["id"]
    api.post(f"/questions/{theirs2}/accept", {"answer_id": mine2}, person="u3")
    thanked = api.post(f"/communities/{cid}/relay-members/u7/thanks", {"message": "Thanks!"},
                       person="u5")
    assert thanked.status_code == 201, thanked.json
    api.ids = dict(cid=cid, qid=qid, anon=anon, theirs=theirs, mine=mine, other=other)
    return api


def test_export_holds_everything_of_mine_and_nothing_of_others(world):
    ids = world.ids
    response = world.get("/me/export", person="u7")
    assert response.status_code == 200
    data = response.json
    assert data["format"] == "relais-export-v1"
    assert data["profile"]["id"] == "u7" and data["profile"]["employee_number"] == "E-77"
    assert {q["id"] for q in data["questions"]} == {ids["qid"], ids["anon"]}
    assert [q["anonymous"] for q in data["questions"] if q["id"] == ids["anon"]] == [True]
    assert ids["mine"] in {a["id"] for a in data["answers"]}
    assert data["votes"] == [{"answer_id": ids["other"], "value": 1}]
    assert {r["question_id"] for r in data["relays"]} >= {ids["theirs"]}
    assert [c["community_id"] for c in data["communities"]] == [ids["cid"]]
    assert [t["message"] for t in data["thanks_received"]] == ["Thanks!"]
    assert data["thanks_given"] == []
    text = json.dumps(data)
    assert "Big Boss" not in text and ids["theirs"] not in {q["id"] for q in data["questions"]}
    manager = world.get("/me/export", person="u5").json
    assert [t["to_id"] for t in manager["thanks_given"]] == ["u7"]
    assert manager["community_roles"][0]["role"] == "manager"
    assert "Is my salary fair?" not in json.dumps(manager)


def test_deletion_needs_confirmation(world):
    response = world.delete("/me", person="u7")
    assert response.status_code == 422 and fields_of(response) == ["confirm"]
    assert world.delete("/me?confirm=false", person="u7").status_code == 422
    assert world.get("/me", person="u7").status_code == 200


def test_deletion_erases_me_but_keeps_my_answers_as_a_former_colleagues(world):
    ids = world.ids
    deleted = world.delete("/me?confirm=true", person="u7")
    assert deleted.status_code == 200
    assert deleted.json == {"id": "u7", "deleted": True, "answers_kept": 2}
    stored = world.relais.profile_store.get("u7")
    assert stored.deleted and not stored.active
    for field in ("name", "email", "bio", "site", "department", "employee_number"):
        assert getattr(stored, field) == "", field
    assert stored.skills == [] and stored.languages == []
    assert world.get("/profiles/u7", person="u1").status_code == 404
    assert world.get("/profiles?q=Gus", person="u1").json["items"] == []
    assert world.get("/profiles/u7/thanks", person="u1").status_code == 404
    shown = world.get(f"/questions/{ids['theirs']}", person="u1").json
    answer = [a for a in shown["answers"] if a["id"] == ids["mine"]][0]
    assert answer["author"] == {"id": None, "name": "former colleague"}
    assert answer["body"] == "Add consumers." and answer["accepted"] is True
    asked = world.get(f"/questions/{ids['qid']}", person="u1").json
    assert asked["asker"] == {"id": None, "name": "former colleague"}
    assert world.get(f"/questions/{ids['anon']}", person="u1").json["asker"] is None
    assert "Gus" not in json.dumps(shown) + json.dumps(asked)
    community = world.get(f"/communities/{ids['cid']}", person="u1").json
    assert community["member_count"] == 0
    assert world.relais.index.person_doc_ids("u7") == set()  # no longer suggested as expert
    assert world.get("/me/export", person="u7").status_code == 404
    assert world.delete("/me?confirm=true", person="u7").status_code == 404


def test_a_deleted_person_is_no_longer_relayed_and_their_open_relays_move_on(world):
    relais = world.relais
    question = world.post("/questions", {"title": "kafka kafka consumer groups"},
                          person="u1").json["id"]
    relayed = {r.expert_id: r for r in relais.question_store.relays_for_question(question)}
    assert "u7" in relayed and relayed["u7"].state == "notified"
    world.delete("/me?confirm=true", person="u7")
    after = {r.expert_id: r for r in relais.question_store.relays_for_question(question)}
    assert after["u7"].state == "declined"
    again = world.post("/questions", {"title": "kafka kafka consumer groups again"},
                       person="u1").json["id"]
    assert "u7" not in {r.expert_id for r in relais.question_store.relays_for_question(again)}


@pytest.mark.parametrize("person, role, expected", [
    ("u1", "employee", 403), ("hr1", "hr", 403), ("u5", "employee", 403),
    ("adm", "admin", 200)])
def test_only_admins_read_the_audit_log(world, person, role, expected):
    response = world.get("/admin/audit", person=person, role=role)
    assert response.status_code == expected
    if expected == 403:
        assert response.json["error"]["code"] == "forbidden"


def test_admin_and_hr_actions_are_audited_never_an_anonymous_asker(world):
    ids = world.ids
    world.post("/hr/profiles", {"profiles": [{"id": "n1", "name": "New Person"}]},
               person="hr1", role="hr")
    world.patch("/profiles/u2", {"department": "Data"}, person="hr1", role="hr")
    world.patch("/profiles/u2", {"bio": "Own words"}, person="u2")  # one's own: not audited
    scim = world.post("/scim/v2/Users", {
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"], "userName": "zoe@example.com",
        "name": {"givenName": "Zoe", "familyName": "Scim"}}, person="hr1", role="hr")
    assert scim.status_code == 201
    world.put("/admin/modules", {"analytics": False}, **ADMIN)
    world.delete("/me?confirm=true", person="u7")
    entries = world.get("/admin/audit?limit=100", **ADMIN).json["items"]
    actions = [e["action"] for e in entries]
    for action in ("hr.sync", "profile.edited", "scim.write", "modules.changed",
                   "community.role_assigned", "community.created", "privacy.deleted"):
        assert action in actions, action
    assert actions.count("profile.edited") == 1
    sync = entries[actions.index("hr.sync")]
    assert sync["actor_id"] == "hr1" and sync["details"]["changed"] == ["n1"]
    edited = entries[actions.index("profile.edited")]
    assert edited["target"] == "u2" and edited["details"] == {"fields": ["department"]}
    assert entries[actions.index("scim.write")]["actor_role"] == "identity provider"
    deletion = entries[actions.index("privacy.deleted")]
    assert deletion["target"] == "u7" and deletion["details"]["memberships"] == 1
    text = json.dumps(entries)
    assert ids["anon"] not in text and "Is my salary fair?" not in text
    assert ids["qid"] not in text  # no question is tied to a person in the log
    assert "Gus" not in text and "gus@example.com" not in text
    only_hr = world.get("/admin/audit?actor_id=hr1", **ADMIN).json["items"]
    assert {e["actor_id"] for e in only_hr} == {"hr1"}
    paged = world.get("/admin/audit?limit=2", **ADMIN).json
    assert len(paged["items"]) == 2 and paged["next_cursor"]
    assert world.get("/admin/audit?cursor=bogus", **ADMIN).status_code == 422
