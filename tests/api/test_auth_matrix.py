"""Who may call what: bearer tokens on every route but /health and /openapi.json, and an
authorization matrix of role x endpoint with the status each must get."""
from __future__ import annotations

import jwt
import pytest

import app as app_module
from chalicelib.auth import TokenIssuer
from tests.conftest import TEST_SECRET, seed_people

# Callers of the matrix: the owner of what is acted on, another employee, HR, an admin.
CALLERS = {"owner": ("u1", "employee"), "other": ("u2", "employee"), "hr": ("hr1", "hr"),
           "admin": ("adm", "admin")}


@pytest.fixture
def world(api):
    """u1 owns a profile, a question (qid) and an anonymous one (anon); u2 wrote answer aid."""
    seed_people(api.relais, [{"id": "u1", "name": "Ana Owner"}, {"id": "u2", "name": "Bob Other"},
                             {"id": "hr1", "name": "Hana HR"}, {"id": "adm", "name": "Ada Admin"}])
    qid = api.post("/questions", {"title": "Where are the build logs?"}, person="u1").json["id"]
    anon = api.post("/questions", {"title": "Is my salary fair?", "anonymous": True},
                    person="u1").json["id"]
    aid = api.post(f"/questions/{qid}/answers", {"body": "In the CI tab."},
                   person="u2").json["id"]
    api.ids = {"qid": qid, "anon": anon, "aid": aid}
    return api


# (name, method, path, body, {caller: expected status})
MATRIX = [
    ("read a profile", "GET", "/profiles/u1", None,
     dict(owner=200, other=200, hr=200, admin=200)),
    ("search", "GET", "/profiles?q=ana", None, dict(owner=200, other=200, hr=200, admin=200)),
    ("own fields of a profile", "PATCH", "/profiles/u1", {"bio": "Build engineer"},
     dict(owner=200, other=403, hr=403, admin=200)),
    ("skills of a profile", "PATCH", "/profiles/u1", {"skills": ["CI"]},
     dict(owner=200, other=403, hr=403, admin=200)),
    ("HR field: title", "PATCH", "/profiles/u1", {"title": "Director"},
     dict(owner=403, other=403, hr=200, admin=200)),
    ("HR field: grade", "PATCH", "/profiles/u1", {"grade": "G9"},
     dict(owner=403, other=403, hr=200, admin=200)),
    ("HR field: manager", "PATCH", "/profiles/u1", {"manager_id": "u2"},
     dict(owner=403, other=403, hr=200, admin=200)),
    ("HR field: active", "PATCH", "/profiles/u1", {"active": False},
     dict(owner=403, other=403, hr=200, admin=200)),
    ("HR sync", "POST", "/hr/profiles", {"profiles": [{"id": "n1", "name": "New"}]},
     dict(owner=403, other=403, hr=200, admin=200)),
    ("ask", "POST", "/questions", {"title": "Anyone?"},
     dict(owner=201, other=201, hr=201, admin=201)),
    ("list questions", "GET", "/questions", None, dict(owner=200, other=200, hr=200, admin=200)),
    ("read a question", "GET", "/questions/{qid}", None,
     dict(owner=200, other=200, hr=200, admin=200)),
    ("answer", "POST", "/questions/{qid}/answers", {"body": "Me too"},
     dict(owner=201, other=201, hr=201, admin=201)),
    ("edit an answer by other", "PATCH", "/answers/{aid}", {"body": "edited"},
     dict(owner=403, other=200, hr=403, admin=403)),
    ("vote on an answer by other", "POST", "/answers/{aid}/vote", {"value": 1},
     dict(owner=200, other=403, hr=200, admin=200)),
    ("accept", "POST", "/questions/{qid}/accept", {"answer_id": "{aid}"},
     dict(owner=200, other=403, hr=403, admin=403)),
    ("close", "POST", "/questions/{qid}/close", None,
     dict(owner=200, other=403, hr=403, admin=200)),
    ("replay a routing policy", "POST", "/admin/routing/replay",
     {"changes": {"relay_count": 1}, "questions": 5},
     dict(owner=403, other=403, hr=403, admin=200)),
]

CASES = [pytest.param(caller, method, path, body, expected[caller],
                      id=f"{name}-{caller}")
         for name, method, path, body, expected in MATRIX for caller in CALLERS]


def fill(value, ids):
    if isinstance(value, str):
        return value.format(**ids)
    if isinstance(value, dict):
        return {k: fill(v, ids) for k, v in value.items()}
    return value


@pytest.mark.parametrize("caller,method,path,body,expected", CASES)
def test_authorization_matrix(world, caller, method, path, body, expected):
    person, role = CALLERS[caller]
    before = world.get("/profiles/u1").json
    response = world.call(method, fill(path, world.ids), fill(body, world.ids), person=person,
                          role=role)
    assert response.status_code == expected, response.json
    if expected == 403:
        assert response.json["error"]["code"] == "forbidden"
        if path == "/profiles/u1":
            assert world.get("/profiles/u1").json == before  # nothing changed


@pytest.mark.parametrize("caller", CALLERS)
def test_who_sees_the_asker_of_an_anonymous_question(world, caller):
    person, role = CALLERS[caller]
    shown = world.get(f"/questions/{world.ids['anon']}", person=person, role=role).json
    listed = [q for q in world.get("/questions", person=person, role=role).json["items"]
              if q["id"] == world.ids["anon"]][0]
    if caller == "owner":
        assert shown["asker"]["id"] == "u1" and listed["asker"]["id"] == "u1"
    else:
        assert shown["asker"] is None and listed["asker"] is None
        assert "u1" not in str(shown) and "Ana Owner" not in str(shown)


# Tokens ----------------------------------------------------------------------------------
def _token(kind: str, relais) -> str | None:
    if kind == "expired":
        return TokenIssuer(TEST_SECRET, ttl_hours=-1).issue("u1")
    if kind == "wrong secret":
        return TokenIssuer("another-secret-of-sufficient-length-0123").issue("u1", "admin")
    if kind == "garbled":
        return "not.a.jwt"
    if kind == "tampered":
        head, body, sig = relais.tokens.issue("u1").split(".")
        return ".".join([head, body, sig[::-1]])
    if kind == "unknown role":
        return jwt.encode({"sub": "u1", "role": "root", "exp": 4102444800}, TEST_SECRET,
                          algorithm="HS256")
    if kind == "no expiry":
        return jwt.encode({"sub": "u1", "role": "admin"}, TEST_SECRET, algorithm="HS256")
    if kind == "no subject":
        return jwt.encode({"role": "admin", "exp": 4102444800}, TEST_SECRET, algorithm="HS256")
    if kind == "unsigned":
        return jwt.encode({"sub": "u1", "role": "admin", "exp": 4102444800}, None,
                          algorithm="none")
    raise AssertionError(kind)


TOKEN_KINDS = ["expired", "wrong secret", "garbled", "tampered", "unknown role", "no expiry",
               "no subject", "unsigned"]


def authed_routes() -> list:
    """Every route that needs a token, with placeholder ids."""
    return [pytest.param(spec.method, spec.path.replace("{", "").replace("}", ""), spec.tag,
                         id=f"{spec.method} {spec.path}")
            for spec in app_module.api.specs if spec.auth]


# SCIM discovery (RFC 7644 section 4) is public by design: it says how to authenticate.
PUBLIC = {"/health", "/openapi.json", "/scim/v2/ServiceProviderConfig", "/scim/v2/ResourceTypes",
          "/scim/v2/ResourceTypes/{type_id}", "/scim/v2/Schemas", "/scim/v2/Schemas/{schema_id}"}


def test_only_health_the_description_and_scim_discovery_are_public():
    public = {spec.path for spec in app_module.api.specs if not spec.auth}
    assert public <= PUBLIC, public - PUBLIC
    assert {"/health", "/openapi.json"} <= public
    assert all(spec.method == "GET" for spec in app_module.api.specs if not spec.auth)


@pytest.mark.parametrize("method,path,tag", authed_routes())
def test_every_other_route_needs_a_bearer_token(api, method, path, tag):
    for header in (None, "", "Bearer", "Bearer ", "Basic dTE6cHc=", "Token abc"):
        extra = {} if header is None else {"Authorization": header}
        response = api.call(method, path, {}, person=None, headers=extra)
        assert response.status_code == 401, (header, response.json)
        if tag == "scim":  # SCIM clients get a SCIM Error message
            assert str(response.json["status"]) == "401"
        else:
            assert response.json["error"]["code"] == "unauthorized"


@pytest.mark.parametrize("kind", TOKEN_KINDS)
def test_bad_tokens_are_401(world, kind):
    token = _token(kind, world.relais)
    for method, path, body in [("GET", "/me", None), ("GET", "/profiles/u1", None),
                               ("PATCH", "/profiles/u1", {"title": "Pwned"}),
                               ("POST", "/hr/profiles", {"profiles": []})]:
        response = world.call(method, path, body, person=None,
                              headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 401, (kind, path, response.json)
        assert response.json["error"]["code"] == "unauthorized"
    assert world.get("/profiles/u1").json["title"] == ""


def test_the_scheme_is_case_insensitive(world):
    token = world.relais.tokens.issue("u1")
    response = world.call("GET", "/me", person=None, headers={"authorization": f"bearer {token}"})
    assert response.status_code == 200 and response.json["id"] == "u1"


@pytest.mark.parametrize("path", ["/health", "/openapi.json"])
def test_health_and_the_api_description_need_no_token(world, path):
    assert world.get(path, person=None).status_code == 200
    garbage = world.call("GET", path, person=None, headers={"Authorization": "Bearer junk"})
    assert garbage.status_code == 200
