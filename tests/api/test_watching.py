"""Watched tags: a person opts in to hear of every new question on a tag, by mail or in their
daily digest; the asker, the people the question was relayed to, the away and those who muted
one of its tags are not told."""
from __future__ import annotations

import pytest

from chalicelib.bootstrap import bootstrap
from tests.conftest import make_settings, seed_people
from tests.email_kit import outbox

PEOPLE = ["asker", "watcher", "reader", "away", "muter", "expert", "bystander"]


@pytest.fixture
def relais(request, tmp_path, clock, embedder):
    """The suite's Relais, with the settings a test gives through `indirect` parametrization."""
    overrides = getattr(request, "param", {})
    return bootstrap(make_settings(tmp_path, **overrides), clock=clock, embedder=embedder)


@pytest.fixture
def team(api):
    seed_people(api.relais, [{"id": p, "name": p.title(), "email": f"{p}@example.com"}
                             for p in PEOPLE])
    for person, patch in {
        "asker": {"watched_tags": ["kafka"]},
        "watcher": {"watched_tags": ["Kafka", "postgresql"]},  # tags are kept lower-cased
        "reader": {"watched_tags": ["kafka"], "notify": "daily"},
        "away": {"watched_tags": ["kafka"], "away_until": "2999-01-01"},
        "muter": {"watched_tags": ["kafka"], "muted_tags": ["ops"]},
        "expert": {"watched_tags": ["kafka"], "skills": ["Kafka"], "bio": "I run our kafka."},
        "bystander": {"watched_tags": ["excel"]},
    }.items():
        response = api.patch(f"/profiles/{person}", patch, person=person)
        assert response.status_code == 200, response.json
    return api


def ask(api, tags, **fields):
    response = api.post("/questions", {"title": "kafka consumer lag after a deploy", "tags": tags,
                                       **fields}, person="asker")
    assert response.status_code == 201, response.json
    return response.json


def test_watchers_of_a_tag_hear_of_a_new_question_once(team):
    question = ask(team, ["kafka", "ops"])
    relayed = {r["expert"]["id"] for r in
               team.get(f"/questions/{question['id']}/relays", person="asker").json["items"]}
    assert relayed == {"expert"}  # the only person the index knows on kafka
    mails = outbox(team.relais, "watch")
    assert [m["recipient"] for m in mails] == ["watcher@example.com"]
    [mail] = mails
    assert mail["subject"] == "[Relais] New question on kafka: kafka consumer lag after a deploy"
    assert "Asker asked a question on kafka, which you watch" in mail["text"]
    assert f"/questions/{question['id']}" in mail["text"]
    assert mail["headers"]["Auto-Submitted"] == "auto-generated"
    # the relayed expert got the relay, not a second mail; the asker hears nothing of it
    assert outbox(team.relais, "relay", to="expert@example.com")
    assert not outbox(team.relais, "watch", to="asker@example.com")


def test_a_daily_reader_finds_it_in_the_digest(team):
    ask(team, ["kafka"])
    assert not outbox(team.relais, to="reader@example.com")
    response = team.post("/admin/mail/digests", person="admin1", role="admin")
    assert response.status_code == 200
    [digest] = outbox(team.relais, "digest", to="reader@example.com")
    assert "New question on kafka: kafka consumer lag after a deploy" in digest["text"]


@pytest.mark.parametrize("relais", [{"watch_mails_per_question": 1}], indirect=True)
def test_beyond_the_mails_of_one_question_watchers_find_it_in_their_digest(team):
    ask(team, ["kafka"])
    # muter, reader and watcher are told (in that order); reader reads once a day anyway
    assert [m["recipient"] for m in outbox(team.relais, "watch")] == ["muter@example.com"]
    assert team.post("/admin/mail/digests", person="admin1", role="admin").json == \
        {"people": 2, "items": 2}
    for person in ("reader", "watcher"):
        [digest] = outbox(team.relais, "digest", to=f"{person}@example.com")
        assert "New question on kafka: kafka consumer lag after a deploy" in digest["text"]


def test_an_anonymous_asker_stays_hidden_from_watchers(team):
    ask(team, ["postgresql"], anonymous=True)
    [mail] = outbox(team.relais, "watch")
    assert mail["recipient"] == "watcher@example.com"
    assert "A colleague asked" in mail["text"] and "Asker" not in mail["text"]


def test_a_watcher_without_an_address_is_not_mailed(team):
    seed_people(team.relais, [{"id": "nomail", "name": "No Mail"}])
    assert team.patch("/profiles/nomail", {"watched_tags": ["postgresql"]},
                      person="nomail").status_code == 200
    ask(team, ["postgresql"])
    assert [m["recipient"] for m in outbox(team.relais, "watch")] == ["watcher@example.com"]


def test_a_question_on_no_watched_tag_tells_nobody(team):
    ask(team, ["vpn"])
    ask(team, [])
    assert outbox(team.relais, "watch") == []


def test_watched_tags_and_mail_rhythm_are_the_persons_own(team):
    me = team.get("/profiles/watcher", person="watcher").json
    assert me["watched_tags"] == ["kafka", "postgresql"] and me["notify"] == "immediate"
    for field, value in (("watched_tags", ["excel"]), ("notify", "daily")):
        assert team.patch("/profiles/watcher", {field: value}, person="bystander").status_code == 403
    changed = team.patch("/profiles/watcher", {"watched_tags": [], "notify": "daily"},
                         person="watcher")
    assert changed.status_code == 200
    assert (changed.json["watched_tags"], changed.json["notify"]) == ([], "daily")
    ask(team, ["postgresql"])
    assert not outbox(team.relais, "watch", to="watcher@example.com")


def test_questions_on_the_tags_i_watch_are_listed_for_me(team):
    first = ask(team, ["kafka"])
    excel = ask(team, ["excel"])
    last = ask(team, ["postgresql", "kafka"])
    closed = team.post(f"/questions/{first['id']}/close", person="asker")
    assert closed.status_code == 200, closed.json
    page = team.get("/questions?watched=true&limit=1", person="watcher").json
    assert [q["id"] for q in page["items"]] == [last["id"]] and page["next_cursor"]
    rest = team.get(f"/questions?watched=true&limit=5&cursor={page['next_cursor']}",
                    person="watcher").json
    assert [q["id"] for q in rest["items"]] == [first["id"]] and rest["next_cursor"] is None
    open_ones = team.get("/questions?watched=true&status=open", person="watcher").json["items"]
    assert [q["id"] for q in open_ones] == [last["id"]]
    mine = team.get("/questions?watched=true", person="bystander").json["items"]
    assert [q["id"] for q in mine] == [excel["id"]]
    team.patch("/profiles/bystander", {"watched_tags": []}, person="bystander")
    assert team.get("/questions?watched=true", person="bystander").json["items"] == []
    for query in ("watched=true&mine=true", "watched=true&tag=kafka", "watched=maybe"):
        response = team.get(f"/questions?{query}", person="watcher")
        assert response.status_code == 422, query
        assert response.json["error"]["details"][0]["field"] == "watched"


@pytest.mark.parametrize("body, field", [
    ({"watched_tags": ["two words"]}, "watched_tags[0]"),
    ({"watched_tags": "kafka"}, "watched_tags"),
    ({"watched_tags": [f"t{n}" for n in range(51)]}, "watched_tags"),
    ({"notify": "weekly"}, "notify"),
    ({"notify": None}, "notify"),
])
def test_bad_watch_settings_name_the_field(team, body, field):
    response = team.patch("/profiles/watcher", body, person="watcher")
    assert response.status_code == 422
    assert field in [d["field"] for d in response.json["error"]["details"]]
    assert team.get("/profiles/watcher", person="watcher").json["watched_tags"] == \
        ["kafka", "postgresql"]
