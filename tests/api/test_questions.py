"""Questions and answers through the HTTP API, anonymous questions included."""
from __future__ import annotations

import json
import logging

import pytest

import app as app_module
from tests.conftest import seed_people

ASKER, ASKER_NAME, ASKER_EMAIL = "secret-asker-4711", "Sybille Secrète", "sybille@example.com"


@pytest.fixture
def qa(api):
    seed_people(api.relais, [
        {"id": ASKER, "name": ASKER_NAME, "department": "Legal", "email": ASKER_EMAIL},
        {"id": "u1", "name": "Ana Lima", "skills": ["Python"]},
        {"id": "u2", "name": "Bob Martin", "skills": ["SQL"], "email": "bob@example.com"},
        {"id": "hr1", "name": "Hana Ressources"},
        {"id": "adm", "name": "Ada Admin"},
    ])
    return api


def ask(api, person=ASKER, **fields):
    body = {"title": "How do I read a Parquet file?", "body": "From Python, ideally."}
    body.update(fields)
    response = api.post("/questions", body, person=person)
    assert response.status_code == 201, response.json
    return response.json


def answer(api, question_id, person="u1", text="Use pyarrow."):
    response = api.post(f"/questions/{question_id}/answers", {"body": text}, person=person)
    assert response.status_code == 201, response.json
    return response.json


# Asking and reading ----------------------------------------------------------------------
def test_ask_a_question(qa):
    question = ask(qa, person="u1", tags=["Python", "parquet", "python"])
    assert question["title"] == "How do I read a Parquet file?"
    assert question["body"] == "From Python, ideally."
    assert question["tags"] == ["python", "parquet"]  # lower-cased, no repeats
    assert question["status"] == "open" and question["answer_count"] == 0
    assert question["asked_by_me"] is True
    assert question["asker"] == {"id": "u1", "name": "Ana Lima", "active": True}
    assert question["anonymous"] is False
    fetched = qa.get(f"/questions/{question['id']}", person="u2").json
    assert fetched["title"] == question["title"] and fetched["answers"] == []
    assert fetched["asker"]["id"] == "u1" and fetched["asked_by_me"] is False


def test_an_unknown_question_is_a_404(qa):
    assert qa.get("/questions/q-nope").status_code == 404
    assert qa.post("/questions/q-nope/answers", {"body": "x"}).status_code == 404


def test_someone_outside_the_directory_cannot_ask(qa):
    response = qa.post("/questions", {"title": "Who am I?"}, person="stranger")
    assert response.status_code == 403
    assert qa.get("/questions").json["total"] == 0


def test_list_mine_open_and_by_tag(qa):
    mine_python = ask(qa, person="u1", title="Python packaging?", tags=["python"])
    mine_sql = ask(qa, person="u1", title="SQL window functions?", tags=["sql"])
    theirs = ask(qa, person="u2", title="Python typing?", tags=["python"])
    answer(qa, mine_sql["id"], person="u2")
    qa.post(f"/questions/{theirs['id']}/close", person="u2")

    def listed(query, person="u1"):
        response = qa.get(f"/questions?{query}", person=person)
        assert response.status_code == 200
        return [q["id"] for q in response.json["items"]]

    assert listed("mine=true") == [mine_sql["id"], mine_python["id"]]  # newest first
    assert listed("mine=true", person="u2") == [theirs["id"]]
    assert listed("status=open") == [mine_python["id"]]
    assert listed("status=answered") == [mine_sql["id"]]
    assert listed("status=closed") == [theirs["id"]]
    assert listed("tag=python") == [theirs["id"], mine_python["id"]]
    assert listed("tag=PYTHON") == []  # tags are stored lower-cased; the filter is exact
    assert listed("tag=python&mine=true") == [mine_python["id"]]
    assert listed("") == [theirs["id"], mine_sql["id"], mine_python["id"]]


def test_question_list_pages(qa):
    for n in range(5):
        ask(qa, person="u1", title=f"Question number {n}")
    first = qa.get("/questions?limit=2").json
    second = qa.get(f"/questions?limit=2&cursor={first['next_cursor']}").json
    third = qa.get(f"/questions?limit=2&cursor={second['next_cursor']}").json
    titles = [q["title"] for page in (first, second, third) for q in page["items"]]
    assert titles == [f"Question number {n}" for n in reversed(range(5))]
    assert third["next_cursor"] is None and first["total"] == 5


# Answering -------------------------------------------------------------------------------
def test_answer_a_question(qa):
    question = ask(qa, person="u1")
    given = answer(qa, question["id"], person="u2", text="pandas.read_parquet")
    assert given["body"] == "pandas.read_parquet" and given["mine"] is True
    assert given["author"] == {"id": "u2", "name": "Bob Martin", "active": True}
    assert given["score"] == 0 and given["accepted"] is False
    shown = qa.get(f"/questions/{question['id']}", person="u1").json
    assert shown["status"] == "answered" and shown["answer_count"] == 1
    assert [a["id"] for a in shown["answers"]] == [given["id"]]
    assert shown["answers"][0]["mine"] is False


def test_answers_are_listed_oldest_first(qa):
    question = ask(qa, person="u1")
    first = answer(qa, question["id"], person="u2", text="first")
    second = answer(qa, question["id"], person=ASKER, text="second")
    shown = qa.get(f"/questions/{question['id']}").json
    assert [a["id"] for a in shown["answers"]] == [first["id"], second["id"]]
    assert shown["answer_count"] == 2


def test_edit_your_own_answer(qa):
    question = ask(qa, person="u1")
    given = answer(qa, question["id"], person="u2")
    edited = qa.patch(f"/answers/{given['id']}", {"body": "Use pyarrow.parquet.read_table"},
                      person="u2")
    assert edited.status_code == 200
    assert edited.json["body"] == "Use pyarrow.parquet.read_table"
    assert edited.json["version"] == given["version"] + 1
    shown = qa.get(f"/questions/{question['id']}").json["answers"][0]
    assert shown["body"] == "Use pyarrow.parquet.read_table"


@pytest.mark.parametrize("person,role", [("u1", "employee"), ("hr1", "hr"), ("adm", "admin")])
def test_only_the_author_edits_an_answer(qa, person, role):
    question = ask(qa, person="u1")
    given = answer(qa, question["id"], person="u2", text="original")
    response = qa.patch(f"/answers/{given['id']}", {"body": "changed"}, person=person,
                        role=role)
    assert response.status_code == 403
    assert qa.get(f"/questions/{question['id']}").json["answers"][0]["body"] == "original"


def test_an_answer_edit_with_a_stale_version_is_a_409(qa):
    question = ask(qa, person="u1")
    given = answer(qa, question["id"], person="u2", text="v1")
    assert qa.patch(f"/answers/{given['id']}", {"body": "v2", "version": given["version"]},
                    person="u2").status_code == 200
    stale = qa.patch(f"/answers/{given['id']}", {"body": "v3", "version": given["version"]},
                     person="u2")
    assert stale.status_code == 409
    assert stale.json["error"]["details"][0]["field"] == "version"
    assert qa.get(f"/questions/{question['id']}").json["answers"][0]["body"] == "v2"


# Accepting -------------------------------------------------------------------------------
def test_the_asker_accepts_an_answer_and_may_change_their_mind(qa):
    question = ask(qa, person="u1")
    first = answer(qa, question["id"], person="u2", text="first")
    second = answer(qa, question["id"], person=ASKER, text="second")
    accepted = qa.post(f"/questions/{question['id']}/accept", {"answer_id": first["id"]},
                       person="u1")
    assert accepted.status_code == 200
    assert accepted.json["accepted_answer_id"] == first["id"]
    assert [a["accepted"] for a in accepted.json["answers"]] == [True, False]
    changed = qa.post(f"/questions/{question['id']}/accept", {"answer_id": second["id"]},
                      person="u1")
    assert changed.json["accepted_answer_id"] == second["id"]
    assert [a["accepted"] for a in changed.json["answers"]] == [False, True]


@pytest.mark.parametrize("person,role", [("u2", "employee"), ("hr1", "hr"), ("adm", "admin")])
def test_only_the_asker_accepts(qa, person, role):
    question = ask(qa, person="u1")
    given = answer(qa, question["id"], person="u2")
    response = qa.post(f"/questions/{question['id']}/accept", {"answer_id": given["id"]},
                       person=person, role=role)
    assert response.status_code == 403
    assert qa.get(f"/questions/{question['id']}").json["accepted_answer_id"] is None


def test_accepting_an_answer_of_another_question_is_refused(qa):
    mine = ask(qa, person="u1", title="Mine?")
    other = ask(qa, person="u2", title="Other?")
    elsewhere = answer(qa, other["id"], person=ASKER)
    response = qa.post(f"/questions/{mine['id']}/accept", {"answer_id": elsewhere["id"]},
                       person="u1")
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == "answer_id"
    missing = qa.post(f"/questions/{mine['id']}/accept", {"answer_id": "a-nope"}, person="u1")
    assert missing.status_code == 404


# Voting ----------------------------------------------------------------------------------
def test_votes_one_per_voter_and_zero_withdraws(qa):
    question = ask(qa, person="u1")
    given = answer(qa, question["id"], person="u2")
    path = f"/answers/{given['id']}/vote"
    assert qa.post(path, {"value": 1}, person="u1").json == {"answer_id": given["id"],
                                                            "score": 1}
    assert qa.post(path, {"value": 1}, person="u1").json["score"] == 1  # not twice
    assert qa.post(path, {"value": 1}, person=ASKER).json["score"] == 2
    assert qa.post(path, {"value": -1}, person="u1").json["score"] == 0
    assert qa.post(path, {"value": 0}, person="u1").json["score"] == 1  # withdrawn
    assert qa.get(f"/questions/{question['id']}").json["answers"][0]["score"] == 1


def test_nobody_votes_on_their_own_answer(qa):
    question = ask(qa, person="u1")
    given = answer(qa, question["id"], person="u2")
    response = qa.post(f"/answers/{given['id']}/vote", {"value": 1}, person="u2")
    assert response.status_code == 403
    assert qa.get(f"/questions/{question['id']}").json["answers"][0]["score"] == 0


@pytest.mark.parametrize("value", [2, -2, "up", None, 1.5])
def test_a_vote_is_plus_one_minus_one_or_zero(qa, value):
    question = ask(qa, person="u1")
    given = answer(qa, question["id"], person="u2")
    response = qa.post(f"/answers/{given['id']}/vote", {"value": value}, person="u1")
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == "value"


def test_a_vote_on_an_unknown_answer_is_a_404(qa):
    assert qa.post("/answers/a-nope/vote", {"value": 1}).status_code == 404


# Closing ---------------------------------------------------------------------------------
@pytest.mark.parametrize("person,role", [("u1", "employee"), ("adm", "admin")])
def test_the_asker_or_an_admin_closes_and_a_closed_question_takes_no_answers(qa, person, role):
    question = ask(qa, person="u1")
    closed = qa.post(f"/questions/{question['id']}/close", person=person, role=role)
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    refused = qa.post(f"/questions/{question['id']}/answers", {"body": "late"}, person="u2")
    assert refused.status_code == 409
    assert refused.json["error"]["code"] == "conflict"
    assert qa.get(f"/questions/{question['id']}").json["answers"] == []


@pytest.mark.parametrize("person,role", [("u2", "employee"), ("hr1", "hr")])
def test_others_cannot_close(qa, person, role):
    question = ask(qa, person="u1")
    response = qa.post(f"/questions/{question['id']}/close", person=person, role=role)
    assert response.status_code == 403
    assert qa.get(f"/questions/{question['id']}").json["status"] == "open"


def test_an_accepted_answer_stays_accepted_after_closing(qa):
    question = ask(qa, person="u1")
    given = answer(qa, question["id"], person="u2")
    qa.post(f"/questions/{question['id']}/accept", {"answer_id": given["id"]}, person="u1")
    closed = qa.post(f"/questions/{question['id']}/close", person="u1").json
    assert closed["status"] == "closed" and closed["accepted_answer_id"] == given["id"]


# Anonymous questions ---------------------------------------------------------------------
SECRETS = (ASKER, ASKER_NAME, ASKER_EMAIL, "Legal")  # the asker's id, name, mail, department


def leaks(payload, question: dict) -> bool:
    """Whether `payload` ties the asker to the question: one record naming both. (The asker
    is in the directory, so a list of people naming them is no leak by itself.)"""
    records = payload.get("items") if isinstance(payload, dict) and "items" in payload else None
    for record in records if isinstance(records, list) else [payload]:
        text = json.dumps(record, ensure_ascii=False)
        about = question["id"] in text or question["title"] in text
        if about and any(secret in text for secret in SECRETS):
            return True
    return False


def listings() -> list[str]:
    """Every GET route without path parameters (relays, outbox, figures, audit...)."""
    return sorted(spec.path for spec in app_module.api.specs
                  if spec.method == "GET" and "{" not in spec.path and spec.auth)


def test_the_anonymous_asker_sees_their_own_question_as_theirs(qa):
    question = ask(qa, anonymous=True)
    assert question["anonymous"] is True and question["asked_by_me"] is True
    assert question["asker"]["id"] == ASKER
    mine = qa.get("/questions?mine=true", person=ASKER).json["items"]
    assert [q["id"] for q in mine] == [question["id"]]


@pytest.mark.parametrize("viewer,role", [("u1", "employee"), ("hr1", "hr"), ("adm", "admin")])
def test_the_anonymous_asker_is_shown_to_nobody_else(qa, viewer, role):
    question = ask(qa, anonymous=True, tags=["parquet"])
    qid = question["id"]
    seen = []

    def call(method, path, body=None, person=viewer, role=role):
        response = qa.call(method, path, body, person=person, role=role)
        assert response.status_code < 400, (path, response.json)
        if person != ASKER:
            seen.append(response.json)
        return response.json

    given = call("POST", f"/questions/{qid}/answers", {"body": "Use pyarrow."})
    call("PATCH", f"/answers/{given['id']}", {"body": "Use pyarrow, really."})
    other = call("POST", f"/questions/{qid}/answers", {"body": "duckdb"}, person="u2",
                 role="employee")
    call("POST", f"/answers/{other['id']}/vote", {"value": 1})
    call("POST", f"/questions/{qid}/accept", {"answer_id": given["id"]}, person=ASKER,
         role="employee")
    for path in (f"/questions/{qid}", "/questions", "/questions?tag=parquet",
                 "/questions?status=answered", "/questions?mine=false"):
        shown = call("GET", path)
    assert [q["id"] for q in shown["items"]] == [qid]
    assert call("GET", "/questions?mine=true")["items"] == []
    if role == "admin":
        call("POST", f"/questions/{qid}/close")
    single = call("GET", f"/questions/{qid}")
    assert single["asker"] is None and single["asked_by_me"] is False
    assert single["anonymous"] is True
    for path in listings():  # relays, outbox, audit...: whatever the viewer may read
        seen.append(qa.get(path, person=viewer, role=role).json)
    for payload in seen:
        assert not leaks(payload, question), payload


def test_the_admin_outbox_does_not_reveal_the_anonymous_asker(qa):
    """The mail telling the asker their question was answered is theirs alone."""
    question = ask(qa, anonymous=True)
    answer(qa, question["id"], person="u1")
    for query in ("", f"?recipient={ASKER_EMAIL}"):
        outbox = qa.get(f"/admin/outbox{query}", person="adm", role="admin")
        assert outbox.status_code == 200
        assert not leaks(outbox.json, question), outbox.json
    public = ask(qa, person="u2", title="A public question?")
    answer(qa, public["id"], person="u1")
    mails = qa.get("/admin/outbox?recipient=bob@example.com", person="adm", role="admin")
    assert mails.json["items"], "mails of public questions stay visible to admins"


def test_an_anonymous_question_leaves_no_asker_id_in_the_logs(qa, caplog):
    caplog.set_level(logging.DEBUG)
    question = ask(qa, anonymous=True, tags=["parquet"])
    given = answer(qa, question["id"], person="u1")
    qa.get(f"/questions/{question['id']}", person="u2")
    qa.get("/questions", person="hr1", role="hr")
    qa.post(f"/questions/{question['id']}/accept", {"answer_id": given["id"]}, person=ASKER)
    qa.post(f"/answers/{given['id']}/vote", {"value": 1}, person=ASKER)
    qa.post(f"/questions/{question['id']}/close", person="adm", role="admin")
    # A refused call about the question must not name the asker either.
    qa.post(f"/questions/{question['id']}/close", person="u2")
    assert ASKER not in caplog.text
    assert ASKER_NAME not in caplog.text


def test_a_public_question_names_its_asker(qa):
    question = ask(qa, anonymous=False)
    shown = qa.get(f"/questions/{question['id']}", person="u1").json
    assert shown["asker"] == {"id": ASKER, "name": ASKER_NAME, "active": True}
