"""Communities: open membership, community managers in cascade, questions asked in a
community (members preferred, its managers reached before any line manager), relay members
recognised from outcomes and thanked. Nothing here looks at title, grade or manager."""
from __future__ import annotations

import dataclasses
import json
from contextlib import contextmanager

import pytest
from chalice.test import Client

import app as app_module
from chalicelib.auth import Caller
from chalicelib.bootstrap import bootstrap
from chalicelib.domain import Community, CommunityRole, Membership, Thanks
from chalicelib.ports import MailNotSent
from chalicelib.schemas import QuestionIn
from chalicelib.services.routing import Draft
from tests.conftest import Api, make_settings, seed_people
from tests.unit.test_routing import TOPICS, build_org

ADMIN = {"person": "adm", "role": "admin"}
PEOPLE = [
    {"id": "adm", "name": "Ada Admin"},
    {"id": "hr1", "name": "Hana HR"},
    {"id": "boss", "name": "Big Boss", "title": "CEO", "grade": "E1"},
    {"id": "u1", "name": "Ana Asker", "manager_id": "boss", "department": "Ops"},
    {"id": "u2", "name": "Bob Kafka", "skills": ["kafka"], "site": "Lyon", "languages": ["fr"],
     "title": "Intern", "grade": "P0", "email": "bob@example.com"},
    {"id": "u3", "name": "Cleo Streams", "skills": ["kafka", "flink"], "email": "cleo@example.com"},
    {"id": "u4", "name": "Dan Lead"},
    {"id": "u5", "name": "Eve Manager"},
    {"id": "u6", "name": "Fay Other"},
]


@contextmanager
def api_with(tmp_path, clock, embedder, **settings):
    """An Api on a Relais built with these settings (the `api` fixture uses the defaults)."""
    relais = bootstrap(make_settings(tmp_path, **settings), clock=clock, embedder=embedder)
    app_module.use(relais)
    with Client(app_module.app) as client:
        yield Api(client, relais)


def make_community(api, name="Streaming", **fields) -> str:
    response = api.post("/communities", {"name": name, "tags": ["kafka"], **fields}, **ADMIN)
    assert response.status_code == 201, response.json
    return response.json["id"]


def fields_of(response) -> list[str]:
    return [d["field"] for d in response.json["error"]["details"]]


@pytest.fixture
def world(api):
    seed_people(api.relais, PEOPLE)
    return api


def test_community_records_have_no_rank_field():
    for record in (Community, Membership, CommunityRole, Thanks):
        names = {f.name for f in dataclasses.fields(record)}
        assert not names & {"title", "grade", "level", "manager_id", "department"}, record


# Creating and describing ------------------------------------------------------------------
def test_admins_create_communities_others_may_not(world):
    body = {"name": "Streaming", "description": "Kafka and friends", "tags": ["kafka"],
            "skills": ["Kafka Streams"], "languages": ["en", "fr"]}
    assert world.post("/communities", body, person="u1").status_code == 403
    assert world.post("/communities", body, person="hr1", role="hr").status_code == 403
    created = world.post("/communities", body, **ADMIN)
    assert created.status_code == 201
    assert created.json["languages"] == ["en", "fr"] and created.json["member_count"] == 0
    listed = world.get("/communities", person="u6").json
    assert [c["name"] for c in listed["items"]] == ["Streaming"] and listed["total"] == 1
    again = world.post("/communities", dict(body, name="  streaming "), **ADMIN)
    assert again.status_code == 409 and fields_of(again) == ["name"]


@pytest.mark.parametrize("body, field", [
    ({"name": "x"}, "name"),
    ({"name": "n" * 121}, "name"),
    ({"name": "Ok name", "tags": ["two words"]}, "tags[0]"),
    ({"name": "Ok name", "languages": ["not a language"]}, "languages[0]"),
    ({"name": "Ok name", "tags": ["t"] * 31}, "tags"),
    ({"name": "Ok name", "manager_id": "boss"}, "manager_id"),
    ({"name": "Ok name", "description": "d" * 4001}, "description"),
])
def test_community_input_errors_name_the_field(world, body, field):
    response = world.post("/communities", body, **ADMIN)
    assert response.status_code == 422
    assert field in fields_of(response)


def test_stewards_edit_a_community_others_may_not(world):
    cid = make_community(world)
    world.put(f"/communities/{cid}/roles/u5", {"role": "manager"}, **ADMIN)
    assert world.patch(f"/communities/{cid}", {"description": "x"}, person="u6").status_code == 403
    edited = world.patch(f"/communities/{cid}", {"description": "Event streaming", "version": 1},
                         person="u5")
    assert edited.status_code == 200 and edited.json["description"] == "Event streaming"
    stale = world.patch(f"/communities/{cid}", {"description": "y", "version": 1}, person="u5")
    assert stale.status_code == 409 and fields_of(stale) == ["version"]
    assert world.patch(f"/communities/{cid}", {}, person="u5").status_code == 422
    assert world.get("/communities/nope", person="u1").status_code == 404


# Membership -------------------------------------------------------------------------------
def test_anyone_joins_and_leaves_and_members_show_no_rank(world):
    cid = make_community(world)
    joined = world.post(f"/communities/{cid}/membership", person="u2")
    assert joined.status_code == 200 and joined.json["changed"] is True
    assert world.post(f"/communities/{cid}/membership", person="u2").json["changed"] is False
    world.post(f"/communities/{cid}/membership", person="boss")
    shown = world.get(f"/communities/{cid}", person="u2").json
    assert shown["member_count"] == 2 and shown["joined"] is True
    assert world.get(f"/communities/{cid}", person="u6").json["joined"] is False
    members = world.get(f"/communities/{cid}/members", person="u6").json["items"]
    assert [m["id"] for m in members] == ["u2", "boss"]
    bob = members[0]
    assert bob["site"] == "Lyon" and bob["languages"] == ["fr"]
    text = json.dumps(members)
    assert not {"title", "grade", "manager_id", "department"} & set(bob)
    assert "CEO" not in text and "Intern" not in text
    mine = world.get("/communities?mine=true", person="u2").json["items"]
    assert [c["id"] for c in mine] == [cid]
    assert world.get("/communities?mine=true", person="u6").json["items"] == []
    left = world.delete(f"/communities/{cid}/membership", person="u2")
    assert left.status_code == 200 and left.json["changed"] is True
    assert world.get(f"/communities/{cid}", person="u2").json["member_count"] == 1
    assert world.post("/communities/nope/membership", person="u2").status_code == 404


def test_a_leaver_cannot_join(world):
    cid = make_community(world)
    world.relais.hr_sync.upsert([{"id": "u6", "name": "Fay Other", "active": False}])
    assert world.post(f"/communities/{cid}/membership", person="u6").status_code == 403
    assert world.post(f"/communities/{cid}/membership", person="ghost").status_code == 403


# Community managers in cascade ---------------------------------------------------------------
@pytest.mark.parametrize("caller, role, expected", [
    (("u1", "employee"), "manager", 403),
    (("hr1", "hr"), "manager", 403),
    (("u5", "employee"), "manager", 403),  # a manager does not appoint managers
    (("u4", "employee"), "manager", 200),  # the lead does
    (("u4", "employee"), "lead", 403),  # but not other leads
    (("adm", "admin"), "lead", 200),
    (("adm", "admin"), "manager", 200),
])
def test_who_assigns_community_roles(world, caller, role, expected):
    cid = make_community(world)
    assert world.put(f"/communities/{cid}/roles/u4", {"role": "lead"}, **ADMIN).status_code == 200
    assert world.put(f"/communities/{cid}/roles/u5", {"role": "manager"},
                     **ADMIN).status_code == 200
    person, token_role = caller
    response = world.put(f"/communities/{cid}/roles/u6", {"role": role}, person=person,
                         role=token_role)
    assert response.status_code == expected, response.json
    roles = world.get(f"/communities/{cid}", person="u6").json
    holders = {c["id"] for c in roles["managers" if role == "manager" else "leads"]}
    assert ("u6" in holders) == (expected == 200)


def test_a_lead_coaches_several_communities_and_only_those(world):
    first, second, third = (make_community(world, name) for name in ("Kafka", "Flink", "Tax"))
    for cid in (first, second):
        world.put(f"/communities/{cid}/roles/u4", {"role": "lead"}, **ADMIN)
    for cid in (first, second):
        assert world.put(f"/communities/{cid}/roles/u5", {"role": "manager"},
                         person="u4").status_code == 200
    assert world.put(f"/communities/{third}/roles/u5", {"role": "manager"},
                     person="u4").status_code == 403
    led = world.get("/communities?mine=true", person="u4").json["items"]
    assert {c["id"] for c in led} == {first, second}
    assert all(c["my_roles"] == ["lead"] for c in led)
    withdrawn = world.delete(f"/communities/{first}/roles/u5?role=manager", person="u4")
    assert withdrawn.status_code == 200
    assert world.get(f"/communities/{first}", person="u4").json["managers"] == []
    assert world.delete(f"/communities/{first}/roles/u5?role=manager",
                        person="u4").status_code == 404


def test_role_input_errors(world):
    cid = make_community(world)
    bad = world.put(f"/communities/{cid}/roles/u5", {"role": "king"}, **ADMIN)
    assert bad.status_code == 422 and fields_of(bad) == ["role"]
    extra = world.put(f"/communities/{cid}/roles/u5", {"role": "manager", "grade": "E1"},
                      **ADMIN)
    assert extra.status_code == 422 and fields_of(extra) == ["grade"]
    assert world.put(f"/communities/{cid}/roles/ghost", {"role": "manager"},
                     **ADMIN).status_code == 404
    missing = world.delete(f"/communities/{cid}/roles/u5", **ADMIN)
    assert missing.status_code == 422 and fields_of(missing) == ["role"]


def test_role_changes_are_audited(world):
    cid = make_community(world)
    world.put(f"/communities/{cid}/roles/u4", {"role": "lead"}, **ADMIN)
    world.put(f"/communities/{cid}/roles/u5", {"role": "manager"}, person="u4")
    world.delete(f"/communities/{cid}/roles/u5?role=manager", **ADMIN)
    entries = world.get("/admin/audit?action=community.", **ADMIN).json["items"]
    assert [(e["action"], e["actor_id"], e["details"].get("person_id")) for e in entries] == [
        ("community.role_withdrawn", "adm", "u5"), ("community.role_assigned", "u4", "u5"),
        ("community.role_assigned", "adm", "u4"), ("community.created", "adm", None)]


# Asking in a community -----------------------------------------------------------------------
def test_a_question_in_an_unknown_community_is_refused_and_not_stored(world):
    before = world.get("/questions", person="u1").json["total"]
    response = world.post("/questions", {"title": "kafka lag", "community_id": "c404"},
                          person="u1")
    assert response.status_code == 422 and fields_of(response) == ["community_id"]
    bad = world.post("/questions", {"title": "kafka lag", "community_id": "../x"}, person="u1")
    assert bad.status_code == 422 and fields_of(bad) == ["community_id"]
    assert world.get("/questions", person="u1").json["total"] == before


def test_a_question_asked_in_a_community_belongs_to_it(world):
    cid = make_community(world)
    asked = world.post("/questions", {"title": "kafka consumer lag", "community_id": cid},
                       person="u1")
    assert asked.status_code == 201 and asked.json["community_id"] == cid
    shown = world.get(f"/questions/{asked.json['id']}", person="u6").json
    assert shown["community_id"] == cid
    assert world.relais.communities.store.question_ids(cid) == [asked.json["id"]]


@pytest.fixture
def org(api):
    return build_org(api.relais)


def boosted_candidate(relais, asker):
    """A draft on one of the synthetic org's topics with a person outside the top 3 whom the
    community boost lifts into it, while the best expert stays far enough ahead that the
    boost cannot pass them."""
    boost = relais.settings.community_boost
    for topic in TOPICS:
        draft = Draft(f"{topic} is slow", tags=(topic.split()[0],))
        ranked = relais.routing.rank(draft, asker, limit=30)
        top, third = ranked[0], ranked[2]
        for suggestion in ranked[3:]:
            if suggestion.score * boost > third.score and top.score > suggestion.score * boost:
                return draft, ranked, suggestion.person_id
    raise AssertionError("the synthetic org has no such person on any topic")


def test_members_are_preferred_but_a_much_better_outsider_still_comes_first(api, org):
    relais = api.relais
    draft, ranked, member = boosted_candidate(relais, "h9")
    assert member not in [s.person_id for s in ranked[:3]]
    cid = make_community(api, "Databases")
    api.post(f"/communities/{cid}/membership", person=member)
    asked = api.post("/questions", {"title": draft.title, "tags": list(draft.tags),
                                    "community_id": cid}, person="h9")
    relays = relais.question_store.relays_for_question(asked.json["id"])
    relayed = [r.expert_id for r in sorted(relays, key=lambda r: r.rank)]
    assert member in relayed  # preferred: lifted into the three relayed
    assert relayed[0] == ranked[0].person_id  # the much better outsider is still first
    assert set(relayed) - {member}  # and outsiders are not excluded
    # Without the community, the same question goes to the plain top three.
    plain = api.post("/questions", {"title": draft.title, "tags": list(draft.tags)},
                     person="h9")
    plain_relays = relais.question_store.relays_for_question(plain.json["id"])
    assert member not in {r.expert_id for r in plain_relays}


def test_no_boost_when_the_setting_is_one(tmp_path, clock, embedder):
    relais = bootstrap(make_settings(tmp_path, community_boost=1.0), clock=clock,
                       embedder=embedder)
    build_org(relais)
    draft = Draft("postgresql query planner is slow", tags=("postgresql",))
    plain = relais.routing.rank(draft, "h9", limit=10)
    members = frozenset(s.person_id for s in plain[3:6])
    assert [s.person_id for s in relais.routing.rank(draft, "h9", limit=10, prefer=members)] \
        == [s.person_id for s in plain]


def overdue(relais, clock):
    """A week later: past every deadline, which count working days only."""
    clock.advance(days=7)
    return relais.routing.escalate_due()


def outsider(org, relais, question_id, asker) -> str:
    """Someone the question was not relayed to and not in the asker's chain."""
    taken = {r.expert_id for r in relais.question_store.relays_for_question(question_id)}
    chain = set(relais.profiles.management_chain(asker, 5))
    return next(p["id"] for p in reversed(org) if p["id"] not in taken | chain | {asker})


def test_overdue_questions_reach_the_community_manager_before_any_line_manager(api, org, clock):
    relais = api.relais
    cid = make_community(api, "Streaming")
    question = relais.communities.ask(Caller("h20"), QuestionIn(
        title="kafka consumer lag spikes", community_id=cid), relais.questions)
    assert overdue(relais, clock)["peers"] == relais.settings.escalation_peer_count
    manager = outsider(org, relais, question.id, "h20")
    api.put(f"/communities/{cid}/roles/{manager}", {"role": "manager"}, **ADMIN)
    second = overdue(relais, clock)
    assert second["community_managers"] == 1 and second["managers"] == 0
    third = overdue(relais, clock)
    assert third["managers"] == 1
    reasons = [(r.reason, r.expert_id) for r in relais.question_store.relays_for_question(
        question.id) if r.reason in ("community_manager", "escalation_manager")]
    assert reasons == [("community_manager", manager),
                       ("escalation_manager", org[20]["manager_id"])]
    mine = api.get("/relays", person=manager).json["items"]
    assert [r["reason"] for r in mine] == ["community_manager"]


def test_without_a_manager_the_lead_is_reached_and_anonymous_askers_stay_hidden(api, org, clock):
    relais = api.relais
    cid = make_community(api, "Streaming")
    question = relais.communities.ask(Caller("h20"), QuestionIn(
        title="kafka consumer lag", community_id=cid, anonymous=True), relais.questions)
    overdue(relais, clock)
    lead = outsider(org, relais, question.id, "h20")
    api.put(f"/communities/{cid}/roles/{lead}", {"role": "lead"}, **ADMIN)
    for _ in range(3):
        overdue(relais, clock)
    reasons = [(r.reason, r.expert_id)
               for r in relais.question_store.relays_for_question(question.id)]
    assert ("community_manager", lead) in reasons
    assert "escalation_manager" not in {reason for reason, _ in reasons}
    relayed = [r for r in api.get("/relays", person=lead).json["items"]
               if r["question_id"] == question.id]
    assert relayed[0]["question"]["asker"] is None


def test_a_question_outside_communities_escalates_as_before(api, org, clock):
    relais = api.relais
    question = relais.questions.ask(Caller("h20"), QuestionIn(title="kafka consumer lag"))
    overdue(relais, clock)
    result = overdue(relais, clock)
    assert result["community_managers"] == 0 and result["managers"] == 1
    reasons = [r.reason for r in relais.question_store.relays_for_question(question.id)]
    assert reasons.count("escalation_manager") == 1 and "community_manager" not in reasons


# Relay members and thanks --------------------------------------------------------------------
def ask_in(api, cid, asker="u1", title="kafka consumer lag") -> str:
    response = api.post("/questions", {"title": title, "community_id": cid}, person=asker)
    assert response.status_code == 201, response.json
    return response.json["id"]


@pytest.fixture
def lively(world, clock):
    """A community where u2 answers fast and is accepted twice; u6 answers slowly once."""
    cid = make_community(world)
    world.put(f"/communities/{cid}/roles/u5", {"role": "manager"}, **ADMIN)
    world.put(f"/communities/{cid}/roles/u4", {"role": "lead"}, **ADMIN)
    world.post(f"/communities/{cid}/membership", person="u2")
    for number in range(2):
        qid = ask_in(world, cid, title=f"kafka question {number}")
        clock.advance(hours=1)
        answer = world.post(f"/questions/{qid}/answers", {"body": "Raise partitions."},
                            person="u2").json["id"]
        world.post(f"/questions/{qid}/accept", {"answer_id": answer}, person="u1")
    slow = ask_in(world, cid, title="kafka slow one")
    clock.advance(hours=30)
    world.post(f"/questions/{slow}/answers", {"body": "Maybe."}, person="u6")
    world.cid = cid
    return world


def test_relay_members_come_from_outcomes(lively):
    listed = lively.get(f"/communities/{lively.cid}/relay-members", person="u5")
    assert listed.status_code == 200
    items = listed.json["items"]
    assert [i["person"]["id"] for i in items] == ["u2"]
    assert items[0]["outcomes"] == {"accepted_answers": 2, "reroutes": 0,
                                    "quick_first_answers": 2}
    assert items[0]["member"] is True and items[0]["total"] == 4
    assert listed.json["window_days"] == 90
    assert "title" not in items[0]["person"] and "grade" not in items[0]["person"]


def test_rank_plays_no_part_in_recognition(lively):
    before = lively.get(f"/communities/{lively.cid}/relay-members", person="u5").json
    lively.relais.hr_sync.upsert([{"id": "u2", "name": "Bob Kafka", "title": "CEO",
                                   "grade": "E1"},
                                  {"id": "u6", "name": "Fay Other", "title": "Director",
                                   "grade": "E2"}])
    assert lively.get(f"/communities/{lively.cid}/relay-members", person="u5").json == before


def test_outcomes_older_than_the_window_do_not_count(lively, clock):
    clock.advance(days=91)
    items = lively.get(f"/communities/{lively.cid}/relay-members", person="u5").json["items"]
    assert items == []


def test_old_questions_answered_in_the_window_count_and_quiet_ones_are_not_read(lively, clock):
    old = [ask_in(lively, lively.cid, title=f"kafka old one {n}") for n in range(2)]
    clock.advance(days=100)  # lively's outcomes, and the asking of these, are before the window
    for qid in old:
        answer = lively.post(f"/questions/{qid}/answers", {"body": "Compact the topic."},
                             person="u6").json["id"]
        lively.post(f"/questions/{qid}/accept", {"answer_id": answer}, person="u1")
    store = lively.relais.question_store
    read = []
    reader = store.answers_for_questions
    store.answers_for_questions = lambda questions: read.extend(questions) or reader(questions)
    items = lively.get(f"/communities/{lively.cid}/relay-members", person="u5").json["items"]
    assert [(i["person"]["id"], i["outcomes"]) for i in items] == [
        ("u6", {"accepted_answers": 2, "reroutes": 0, "quick_first_answers": 0})]
    assert sorted(read) == sorted(old)  # the community's four other questions stayed unread


@pytest.mark.parametrize("how", ["decline", "handoff"])
def test_a_question_passed_on_and_answered_counts_for_who_passed_it(tmp_path, clock, embedder,
                                                                    how):
    """Declined, it goes to the next match; handed off, to the colleague they chose."""
    with api_with(tmp_path, clock, embedder, relay_member_min_outcomes=1, relay_count=1) as api:
        seed_people(api.relais, PEOPLE)
        cid = make_community(api)
        api.put(f"/communities/{cid}/roles/u5", {"role": "manager"}, **ADMIN)
        qid = ask_in(api, cid, title="kafka flink consumer lag")
        first = api.relais.question_store.relays_for_question(qid)[0].expert_id
        if how == "decline":
            assert api.post(f"/questions/{qid}/decline", person=first).status_code == 200
        else:
            chosen = next(p["id"] for p in PEOPLE if p["id"] not in {first, "u1", "adm"})
            assert api.post(f"/questions/{qid}/handoff", {"person_id": chosen},
                            person=first).status_code == 200
        [nxt] = [r.expert_id for r in api.relais.question_store.relays_for_question(qid)
                 if r.reason in ("reroute", "handoff")]
        assert how == "decline" or nxt == chosen
        clock.advance(hours=10)  # not a quick answer
        api.post(f"/questions/{qid}/answers", {"body": "Scale the consumers."}, person=nxt)
        items = api.get(f"/communities/{cid}/relay-members", person="u5").json["items"]
        outcomes = {i["person"]["id"]: i["outcomes"] for i in items}
        assert outcomes[first]["reroutes"] == 1
        assert nxt not in outcomes  # a slow, unaccepted answer is no outcome


@pytest.mark.parametrize("caller, expected", [
    (("u1", "employee"), 403), (("hr1", "hr"), 403), (("u5", "employee"), 200),
    (("u4", "employee"), 200), (("adm", "admin"), 200), (("u3", "employee"), 403)])
def test_who_sees_relay_members(lively, caller, expected):
    other = make_community(lively, "Tax")
    lively.put(f"/communities/{other}/roles/u3", {"role": "manager"}, **ADMIN)
    person, role = caller
    response = lively.get(f"/communities/{lively.cid}/relay-members", person=person, role=role)
    assert response.status_code == expected


def test_community_managers_thank_relay_members(lively):
    path = f"/communities/{lively.cid}/relay-members/u2/thanks"
    assert lively.post(path, {"message": "Thanks!"}, person="u1").status_code == 403
    thanked = lively.post(path, {"message": "Thank you for the kafka answers!"}, person="u5")
    assert thanked.status_code == 201
    mails = [m for m in lively.get("/admin/outbox?recipient=bob@example.com&limit=100",
                                   **ADMIN).json["items"] if m["kind"] == "thanks"]
    assert len(mails) == 1
    assert "Thank you for the kafka answers!" in mails[0]["text"]
    shown = lively.get("/profiles/u2/thanks", person="u6").json["items"]
    assert len(shown) == 1 and shown[0]["from"]["id"] == "u5"
    assert shown[0]["community"]["name"] == "Streaming"
    listed = lively.get(f"/communities/{lively.cid}/relay-members", person="u5").json
    assert listed["items"][0]["thanked"] == 1


def test_a_refused_mail_loses_neither_a_question_nor_thanks(lively, monkeypatch):
    def refuse(**mail):
        raise MailNotSent("SES refused the mail: MessageRejected: Email address is not verified.")
    monkeypatch.setattr(lively.relais.mailer, "send", refuse)
    asked = lively.post("/questions", {"title": "kafka rebalancing storm"}, person="u1")
    assert asked.status_code == 201
    assert lively.get(f"/questions/{asked.json['id']}/relays", person="u1").json["items"]
    path = f"/communities/{lively.cid}/relay-members/u2/thanks"
    assert lively.post(path, {"message": "Thank you!"}, person="u5").status_code == 201
    assert len(lively.get("/profiles/u2/thanks", person="u6").json["items"]) == 1


@pytest.mark.parametrize("person_id, body, status, field", [
    ("u2", {"message": ""}, 422, "message"),
    ("u2", {"message": "m" * 2001}, 422, "message"),
    ("u2", {"message": "hi", "points": 10}, 422, "points"),
    ("u6", {"message": "hi"}, 404, None),  # not a relay member
    ("u5", {"message": "hi"}, 422, "person_id"),  # oneself
])
def test_thanks_input_errors(lively, person_id, body, status, field):
    response = lively.post(f"/communities/{lively.cid}/relay-members/{person_id}/thanks", body,
                           person="u5")
    assert response.status_code == status
    if field:
        assert field in fields_of(response)
