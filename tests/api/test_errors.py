"""Errors: one JSON shape with the field named, the right status, never a 500 for bad input;
and concurrent writers of one record never lose a change."""
from __future__ import annotations

import json
import threading

import pytest

from tests.api.live_server import live_server
from tests.conftest import seed_people


@pytest.fixture
def world(api):
    seed_people(api.relais, [{"id": "u1", "name": "Ana Lima", "skills": ["Go"]},
                             {"id": "u2", "name": "Bob Martin"},
                             {"id": "hr1", "name": "Hana HR"}])
    qid = api.post("/questions", {"title": "Where are the logs?"}, person="u1").json["id"]
    aid = api.post(f"/questions/{qid}/answers", {"body": "In /var/log"}, person="u2").json["id"]
    api.ids = {"qid": qid, "aid": aid}
    return api


def assert_error(response, status: int, code: str, field: str | None = None):
    """The one error shape, with `field` named in the details."""
    assert response.status_code == status, response.json
    assert response.headers["Content-Type"].startswith("application/json")
    error = response.json["error"]
    assert set(error) == {"code", "message", "details"}
    assert error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in error["message"]
    assert isinstance(error["details"], list)
    assert all(isinstance(d, dict) and "field" in d for d in error["details"])
    if field is not None:
        assert field in [d["field"] for d in error["details"]], error


# 400 -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method,path", [("POST", "/questions"), ("PATCH", "/profiles/u1"),
                                         ("POST", "/hr/profiles"),
                                         ("POST", "/answers/{aid}/vote")])
@pytest.mark.parametrize("raw", ['{"title": "x"', "{'single': 'quotes'}", "nul", "[1, 2",
                                 b"\xff\xfe\x00garbage", "", "   "])
def test_malformed_json_is_a_400_naming_the_body(world, method, path, raw):
    response = world.call(method, path.format(**world.ids), raw=raw, person="hr1", role="hr")
    assert_error(response, 400, "bad_request", "body")


# 401, 403, 404 ---------------------------------------------------------------------------
def test_401_403_404_share_the_shape(world):
    assert_error(world.get("/me", person=None), 401, "unauthorized")
    assert_error(world.patch("/profiles/u2", {"bio": "x"}, person="u1"), 403, "forbidden",
                 "bio")
    assert_error(world.patch("/profiles/u1", {"title": "x"}, person="u1"), 403, "forbidden",
                 "title")
    assert_error(world.post("/hr/profiles", {"profiles": []}, person="u1"), 403, "forbidden")
    for path in ("/profiles/nobody", "/questions/q-nope"):
        assert_error(world.get(path), 404, "not_found")
    assert_error(world.patch("/answers/a-nope", {"body": "x"}), 404, "not_found")
    assert_error(world.patch("/profiles/nobody", {"title": "x"}, person="hr1", role="hr"),
                 404, "not_found")


# 409 -------------------------------------------------------------------------------------
def test_stale_versions_are_409_and_change_nothing(world):
    assert world.patch("/profiles/u1", {"bio": "one", "version": 1},
                       person="u1").status_code == 200
    assert_error(world.patch("/profiles/u1", {"bio": "two", "version": 1}, person="u1"),
                 409, "conflict", "version")
    assert world.get("/profiles/u1").json["bio"] == "one"
    aid = world.ids["aid"]
    assert world.patch(f"/answers/{aid}", {"body": "v2", "version": 1},
                       person="u2").status_code == 200
    assert_error(world.patch(f"/answers/{aid}", {"body": "v3", "version": 1}, person="u2"),
                 409, "conflict", "version")


def test_a_closed_question_answers_409(world):
    world.post(f"/questions/{world.ids['qid']}/close", person="u1")
    assert_error(world.post(f"/questions/{world.ids['qid']}/answers", {"body": "late"},
                            person="u2"), 409, "conflict")


# 405, 415: what Chalice answers before any view runs ----------------------------------------
def test_a_method_the_path_does_not_have_is_a_405_naming_the_allowed_ones(world):
    response = world.call("PATCH", "/questions", {"title": "x"})
    assert_error(response, 405, "method_not_allowed", "method")
    assert set(response.headers["Allow"].replace(" ", "").split(",")) == {"GET", "POST"}
    assert "GET" in response.json["error"]["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/xml",
                                          "application/x-www-form-urlencoded"])
def test_a_body_in_another_content_type_is_a_415_and_stores_nothing(world, content_type):
    response = world.call("POST", "/questions", {"title": "Sent as text"},
                          headers={"Content-Type": content_type})
    assert_error(response, 415, "unsupported_media_type", "Content-Type")
    assert content_type in response.json["error"]["message"]
    assert world.get("/questions").json["total"] == 1  # only the fixture's question


def test_chalices_other_own_errors_are_mapped_or_left_alone():
    from types import SimpleNamespace

    from chalice import Response

    from chalicelib.errors import BadRequest, InternalError
    from chalicelib.http import JSON_TYPES, chalice_error

    request = SimpleNamespace(method="GET", headers={})
    accept = chalice_error("BadRequest", "binary needs Accept", request,
                           Response(body={}, status_code=400), JSON_TYPES)
    assert isinstance(accept, BadRequest) and accept.details[0]["field"] == "Accept"
    fault = chalice_error("InternalServerError", "Unknown request.", request,
                          Response(body={}, status_code=500), JSON_TYPES)
    assert isinstance(fault, InternalError) and "Unknown" not in fault.message
    assert chalice_error("NotFoundError", "x", request, Response(body={}, status_code=404),
                         JSON_TYPES) is None


def test_scim_paths_answer_405_and_415_in_scims_error_shape(world):
    token = world.relais.tokens.issue("hr1", "hr")
    response = world.client.http.post("/scim/v2/Users", body="userName=x", headers={
        "Content-Type": "text/plain", "Authorization": f"Bearer {token}"})
    body = json.loads(response.body)
    assert response.status_code == 415 and body["status"] == "415"
    assert body["schemas"] == ["urn:ietf:params:scim:api:messages:2.0:Error"]
    assert "application/scim+json" in body["detail"]
    response = world.client.http.delete("/scim/v2/Users", headers={
        "Authorization": f"Bearer {token}"})
    assert response.status_code == 405 and json.loads(response.body)["status"] == "405"


# 413 -------------------------------------------------------------------------------------
def test_a_body_over_the_limit_is_a_413(world):
    limit = world.relais.settings.max_body_bytes
    huge = json.dumps({"title": "Big", "body": "x" * limit})
    assert_error(world.call("POST", "/questions", raw=huge), 413, "payload_too_large")
    assert world.get("/questions").json["total"] == 1  # only the fixture's question


def test_a_body_just_under_the_limit_is_read(world):
    limit = world.relais.settings.max_body_bytes
    body = json.dumps({"profiles": [{"id": "p1", "name": "P"}]})
    padded = body[:-1] + " " * (limit - len(body)) + "}"
    assert len(padded.encode()) == limit
    response = world.call("POST", "/hr/profiles", raw=padded, person="hr1", role="hr")
    assert response.status_code == 200 and response.json["counts"]["created"] == 1


def test_a_batch_over_the_limit_is_a_413(world):
    profiles = [{"id": f"p{n}", "name": "P"} for n in range(1001)]
    assert_error(world.post("/hr/profiles", {"profiles": profiles}, person="hr1", role="hr"),
                 413, "payload_too_large", "profiles")


# 422 -------------------------------------------------------------------------------------
UNPROCESSABLE = [
    # unknown fields, named
    ("PATCH", "/profiles/u1", {"bio": "x", "salary": 1}, "salary"),
    ("PATCH", "/profiles/u1", {"id": "u9"}, "id"),
    ("POST", "/questions", {"title": "Valid title", "asker_id": "u2"}, "asker_id"),
    ("POST", "/questions/{qid}/answers", {"body": "x", "author_id": "u2"}, "author_id"),
    ("POST", "/answers/{aid}/vote", {"value": 1, "voter": "u2"}, "voter"),
    # wrong types
    ("PATCH", "/profiles/u1", {"skills": "Go, Rust"}, "skills"),
    ("PATCH", "/profiles/u1", {"skills": ["Go", 7]}, "skills[1]"),
    ("PATCH", "/profiles/u1", {"routing_opt_out": "yes please"}, "routing_opt_out"),
    ("PATCH", "/profiles/u1", {"away_until": "next week"}, "away_until"),
    ("PATCH", "/profiles/u1", {"version": "1"}, "version"),
    ("PATCH", "/profiles/u1", {"version": 0}, "version"),
    ("POST", "/questions", {"title": ["a list"]}, "title"),
    ("POST", "/questions", {"title": "Valid title", "anonymous": "no"}, "anonymous"),
    ("POST", "/questions", {"title": "Valid title", "tags": "python"}, "tags"),
    ("POST", "/questions", {"title": "Valid title", "tags": ["two words"]}, "tags[0]"),
    ("POST", "/questions/{qid}/accept", {"answer_id": 5}, "answer_id"),
    # missing, empty, null where a value is needed
    ("POST", "/questions", {}, "title"),
    ("POST", "/questions", {"title": "  "}, "title"),
    ("POST", "/questions/{qid}/answers", {"body": "   "}, "body"),
    ("POST", "/answers/{aid}/vote", {}, "value"),
    ("PATCH", "/profiles/u1", {}, "body"),
    ("PATCH", "/profiles/u1", {"version": 1}, "body"),
    ("PATCH", "/profiles/u1", {"bio": None}, "bio"),
    ("PATCH", "/profiles/u1", {"skills": None}, "skills"),
    ("PATCH", "/profiles/u1", {"site": None}, "site"),
    ("PATCH", "/profiles/u1", {"languages": None}, "languages"),
    ("PATCH", "/profiles/u1", {"routing_opt_out": None}, "routing_opt_out"),
    # too long, too many
    ("PATCH", "/profiles/u1", {"bio": "x" * 4001}, "bio"),
    ("PATCH", "/profiles/u1", {"skills": ["x" * 81]}, "skills[0]"),
    ("PATCH", "/profiles/u1", {"skills": [f"s{n}" for n in range(51)]}, "skills"),
    ("PATCH", "/profiles/u1", {"languages": ["english"]}, "languages[0]"),
    ("PATCH", "/profiles/u1", {"muted_tags": ["two words"]}, "muted_tags[0]"),
    ("PATCH", "/profiles/u1", {"muted_tags": "kafka"}, "muted_tags"),
    ("PATCH", "/profiles/u1", {"muted_tags": [f"t{n}" for n in range(51)]}, "muted_tags"),
    ("POST", "/questions", {"title": "x" * 301}, "title"),
    ("POST", "/questions", {"title": "Valid title", "body": "x" * 20_001}, "body"),
    ("POST", "/questions", {"title": "Valid title", "tags": [f"t{n}" for n in range(11)]},
     "tags"),
    ("POST", "/questions/{qid}/answers", {"body": "x" * 20_001}, "body"),
    # a body that is JSON but not an object
    ("POST", "/questions", ["title"], "body"),
    ("PATCH", "/profiles/u1", "a string", "body"),
    ("POST", "/hr/profiles", None, "body"),
]


@pytest.mark.parametrize("method,path,body,field", UNPROCESSABLE)
def test_invalid_fields_are_422_with_the_field_named(world, method, path, body, field):
    raw = json.dumps(body)
    response = world.call(method, path.format(**world.ids), raw=raw, person="u1")
    assert_error(response, 422, "validation_error", field)


@pytest.mark.parametrize("query,field", [
    ("/profiles?limit=0", "limit"), ("/profiles?limit=101", "limit"),
    ("/profiles?limit=ten", "limit"), ("/profiles?limit=1.5", "limit"),
    ("/profiles?cursor=bm90LWEtY3Vyc29y", "cursor"), ("/profiles?cursor=%25%25", "cursor"),
    ("/profiles?sort=name", "sort"), ("/profiles?q=" + "x" * 1001, "q"),
    ("/questions?mine=maybe", "mine"), ("/questions?status=pending", "status"),
    ("/questions?limit=-1", "limit"), ("/questions?cursor=eyJvIjogLTF9", "cursor"),
    ("/me?debug=1", "debug"),
])
def test_bad_query_parameters_are_422_with_the_parameter_named(world, query, field):
    assert_error(world.get(query), 422, "validation_error", field)


@pytest.mark.parametrize("method,path,raw", [
    ("GET", "/profiles?q=%22%20OR%20*%20NEAR(", None),
    ("GET", "/profiles?q=%00%01%02", None),
    ("GET", "/profiles?q=%F0%9F%98%80%20%E2%80%8B", None),
    ("GET", "/profiles?skill=%27%3B%20DROP%20TABLE%20profiles%3B--", None),
    ("GET", "/profiles?q=AND%20OR%20NOT", None),
    ("GET", "/questions?tag=%27%22", None),
    ("GET", "/profiles/" + "x" * 3000, None),
    ("GET", "/profiles/%2e%2e%2f%2e%2e", None),
    ("POST", "/questions", '{"title": "Valid title", "body": "\\ud800"}'),
    ("POST", "/questions", '{"title": "Valid title", "tags": ["\\u0000"]}'),
    ("POST", "/questions", '{"title": 1e999}'),
    ("POST", "/questions", '{"title": "Valid title", "anonymous": NaN}'),
    ("POST", "/questions", '{"title": "Valid title", "title": "Twice"}'),
    ("POST", "/questions", "[" * 5000 + "]" * 5000),
    ("PATCH", "/profiles/u1", '{"away_until": "2026-02-30"}'),
    ("PATCH", "/profiles/u1", '{"skills": [{"name": "Go"}]}'),
    ("PATCH", "/profiles/u1", '{"version": 99999999999999999999999}'),
    ("POST", "/hr/profiles", '{"profiles": [{"id": "x", "name": "X", "manager_id": "x"}]}'),
    ("POST", "/hr/profiles", '{"profiles": [[], 1, null, "s", {"id": {}}]}'),
    ("POST", "/answers/{aid}/vote", '{"value": true}'),
    ("POST", "/answers/{aid}/vote", '{"value": 1.0000001}'),
    ("POST", "/questions/{qid}/accept", '{"answer_id": ""}'),
])
def test_hostile_input_never_causes_a_500(world, method, path, raw):
    response = world.call(method, path.format(**world.ids), raw=raw, person="hr1", role="hr")
    assert response.status_code < 500, response.json
    if response.status_code >= 400:
        assert_error(response, response.status_code, response.json["error"]["code"])


def test_a_search_with_only_symbols_lists_the_directory(world):
    response = world.get("/profiles?q=%2A%22%28%29")
    assert response.status_code == 200 and response.json["total"] == 3


# Concurrency -----------------------------------------------------------------------------
@pytest.fixture
def server(world):
    with live_server(world.relais) as live:
        yield live


def run_together(jobs) -> list:
    """Start every job at the same moment (one thread each) and return their results."""
    barrier, results = threading.Barrier(len(jobs)), [None] * len(jobs)

    def run(index, job):
        barrier.wait()
        results[index] = job()

    threads = [threading.Thread(target=run, args=(i, job)) for i, job in enumerate(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


def test_concurrent_edits_of_different_fields_all_land(server):
    employee = server.relais.tokens.issue("u1")
    hr = server.relais.tokens.issue("hr1", "hr")
    edits = [(employee, {"bio": "Kernel hacker"}), (employee, {"site": "Lyon"}),
             (employee, {"languages": ["fr", "en"]}), (employee, {"routing_opt_out": True}),
             (employee, {"away_until": "2026-03-01"}), (hr, {"title": "Staff Engineer"}),
             (hr, {"department": "Platform"}), (hr, {"grade": "E5"})]
    statuses = run_together([
        lambda token=token, body=body: server.request("PATCH", "/profiles/u1", body,
                                                      token=token)[0]
        for token, body in edits])
    assert statuses == [200] * 8
    status, card = server.request("GET", "/profiles/u1", token=employee)
    for _, body in edits:
        for field, value in body.items():
            assert card[field] == value, field
    assert card["version"] == 1 + 8


def test_concurrent_skill_appends_with_read_modify_write_all_land(server):
    """Each client reads the profile, appends a skill and writes back with the version it
    read; on 409 it reads again. No append is lost."""
    token = server.relais.tokens.issue("u1")
    conflicts = []

    def append(skill):
        for _ in range(50):
            _, card = server.request("GET", "/profiles/u1", token=token)
            status, _ = server.request("PATCH", "/profiles/u1", {
                "skills": card["skills"] + [skill], "version": card["version"]}, token=token)
            if status != 409:
                return status
            conflicts.append(skill)
        return 409

    skills = [f"skill-{n}" for n in range(8)]
    assert run_together([lambda s=s: append(s) for s in skills]) == [200] * 8
    _, card = server.request("GET", "/profiles/u1", token=token)
    assert sorted(card["skills"]) == sorted(["Go", *skills])
    assert card["version"] == 1 + 8


def test_a_write_from_a_stale_read_is_refused_under_concurrency(server):
    token = server.relais.tokens.issue("u1")
    results = run_together([
        lambda n=n: server.request("PATCH", "/profiles/u1", {"bio": f"writer {n}", "version": 1},
                                   token=token)[0] for n in range(8)])
    assert sorted(results) == [200] + [409] * 7
    _, card = server.request("GET", "/profiles/u1", token=token)
    assert card["version"] == 2
    assert card["bio"].startswith("writer ")


def test_concurrent_answers_all_count(server):
    tokens = [server.relais.tokens.issue(p) for p in ("u1", "u2", "hr1")] * 2
    qid = server.relais.question_store.list_questions(limit=1).items[0].id
    results = run_together([
        lambda t=t, n=n: server.request("POST", f"/questions/{qid}/answers",
                                        {"body": f"answer {n}"}, token=t)[0]
        for n, t in enumerate(tokens)])
    assert results == [201] * 6
    _, question = server.request("GET", f"/questions/{qid}", token=tokens[0])
    assert question["answer_count"] == 7 and len(question["answers"]) == 7


def test_an_edit_that_keeps_losing_races_is_retried_until_it_lands(world, monkeypatch):
    """Others write in between our read and our write (as on a busy DynamoDB table): the
    service reads again and retries; the caller never sees it."""
    store = world.relais.profile_store
    real_update, raced = store.update, []

    def busy_update(profile):
        if len(raced) < 6:  # someone else writes first, six times in a row
            raced.append(profile.version)
            real_update(store.get(profile.id).replace(site=f"elsewhere {len(raced)}"))
        return real_update(profile)

    monkeypatch.setattr(store, "update", busy_update)
    response = world.patch("/profiles/u1", {"bio": "Finally"}, person="u1")
    assert response.status_code == 200
    card = world.get("/profiles/u1").json
    assert card["bio"] == "Finally" and card["site"] == "elsewhere 6"  # both writes kept
    assert raced == [1, 2, 3, 4, 5, 6]
    raced.clear()
    stale = world.patch("/profiles/u1", {"bio": "Again", "version": card["version"]},
                        person="u1")
    assert stale.status_code == 409  # with a version, the caller decides
    assert world.get("/profiles/u1").json["bio"] == "Finally"
