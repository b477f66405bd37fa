"""SCIM 2.0 provisioning through the HTTP API, with the requests Okta and Microsoft Entra ID send.

The fixtures under tests/fixtures/scim/ are the request bodies from the Okta SCIM 2.0 reference
and Microsoft Entra's "Develop and plan provisioning for a SCIM endpoint" tutorial (and its
SCIM compliance notes); `{{...}}` marks a value known only at run time (an id we generated).
"""
from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import quote

import pytest

from chalicelib.auth import Caller
from chalicelib.schemas import ProfilePatch

from chalicelib.views import FORMER_COLLEAGUE
from tests.conftest import seed_people

FIXTURES = Path(__file__).parent.parent / "fixtures" / "scim"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
LIST = "urn:ietf:params:scim:api:messages:2.0:ListResponse"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
SCIM_JSON = {"Content-Type": "application/scim+json"}


def fixture(name: str, **values) -> dict:
    text = (FIXTURES / f"{name}.json").read_text()
    for key, value in values.items():
        text = text.replace("{{%s}}" % key, value)
    return json.loads(text)


class Idp:
    """An identity provider's calls: an hr token and SCIM content types."""

    def __init__(self, api):
        self.api = api

    def call(self, method, path, body=None, *, headers=None, **kw):
        kw.setdefault("person", "okta-provisioning")
        kw.setdefault("role", "hr")
        return self.api.call(method, "/scim/v2" + path, body,
                             headers={**SCIM_JSON, **(headers or {})}, **kw)

    def get(self, path, **kw):
        return self.call("GET", path, **kw)

    def find(self, filter_text: str, **params) -> dict:
        query = "&".join([f"filter={quote(filter_text)}",
                          *(f"{k}={v}" for k, v in params.items())])
        response = self.get(f"/Users?{query}")
        assert response.status_code == 200, response.json
        return response.json

    def create(self, body) -> dict:
        response = self.call("POST", "/Users", body)
        assert response.status_code == 201, response.json
        return response.json


@pytest.fixture
def idp(api):
    return Idp(api)


def assert_scim_error(response, status: int, scim_type: str | None = None):
    assert response.status_code == status, response.json
    assert response.headers["Content-Type"].startswith("application/scim+json")
    body = response.json
    assert body["schemas"] == [ERROR]
    assert body["status"] == str(status)
    assert body["detail"]
    assert body.get("scimType") == scim_type


def directory_ids(api, text: str) -> list[str]:
    response = api.get(f"/profiles?q={quote(text)}", person="someone")
    assert response.status_code == 200
    return [item["id"] for item in response.json["items"]]


# Create, probe, read ---------------------------------------------------------------------
def test_okta_probe_then_create_then_probe_finds_the_user(idp):
    probe = 'userName eq "test.user@okta.local"'
    assert idp.find(probe, startIndex=1, count=100)["totalResults"] == 0

    response = idp.call("POST", "/Users", fixture("okta_create_user"))

    assert response.status_code == 201
    user = response.json
    assert user["id"].startswith("scim-")
    assert response.headers["Location"].endswith(f"/scim/v2/Users/{user['id']}")
    assert response.headers["ETag"] == 'W/"1"' == user["meta"]["version"]
    assert response.headers["Content-Type"] == "application/scim+json"
    assert user["userName"] == "test.user@okta.local"
    assert user["externalId"] == "00ujl29u0le5T6Aj10h7"
    assert user["name"] == {"formatted": "Test User", "givenName": "Test", "familyName": "User"}
    assert user["emails"] == [{"value": "test.user@okta.local", "type": "work", "primary": True}]
    assert user["locale"] == "en-US"
    assert user["active"] is True
    assert user["meta"]["resourceType"] == "User"
    assert "password" not in user

    found = idp.find(probe, startIndex=1, count=100)
    assert found["schemas"] == [LIST]
    assert (found["totalResults"], found["startIndex"], found["itemsPerPage"]) == (1, 1, 1)
    assert found["Resources"][0]["id"] == user["id"]


def test_a_provisioned_person_appears_in_the_directory(idp, api):
    user = idp.create(fixture("okta_create_user"))

    card = api.get(f"/profiles/{user['id']}", person="someone").json
    assert (card["name"], card["email"], card["languages"]) == (
        "Test User", "test.user@okta.local", ["en-US"])
    assert directory_ids(api, "Test User") == [user["id"]]


def test_entra_create_and_every_lookup_entra_uses(idp):
    user = idp.create(fixture("entra_create_user"))
    email = "Test_User_11bb11bb-cc22-dd33-ee44-55ff55ff55ff@testuser.com"

    for filter_text in ('userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"',
                        'userName eq "test_user_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"',
                        'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"',
                        f'emails[type eq "work"].value eq "{email}"',
                        f'emails.value eq "{email}"',
                        f'id eq "{user["id"]}"',
                        'userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee" and '
                        'externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef"'):
        found = idp.find(filter_text)
        assert [r["id"] for r in found["Resources"]] == [user["id"]], filter_text

    # externalId is case-exact (RFC 7643); a contradicting second term matches nobody.
    assert idp.find('externalId eq "0A21F0F2-8D2A-4F8E-BF98-7363C4AED4EF"')["totalResults"] == 0
    assert idp.find('userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee" and '
                    'externalId eq "other"')["totalResults"] == 0
    assert idp.find('userName eq "non-existent user"') == {
        "schemas": [LIST], "totalResults": 0, "startIndex": 1, "itemsPerPage": 0,
        "Resources": []}

    fetched = idp.get(f"/Users/{user['id']}")
    assert fetched.status_code == 200
    assert fetched.json == user
    assert fetched.headers["ETag"] == 'W/"1"'


def test_attributes_and_excluded_attributes_shape_the_response(idp):
    user = idp.create(fixture("entra_create_manager"))

    only = idp.get(f"/Users/{user['id']}?attributes=userName,name.givenName,"
                   f"{ENTERPRISE}:department").json
    assert only == {"schemas": user["schemas"], "id": user["id"],
                    "userName": "ellen.reckert@contoso.com", "name": {"givenName": "Ellen"},
                    ENTERPRISE: {"department": "Human Resources US"}}
    without = idp.get(f"/Users/{user['id']}?excludedAttributes=emails,meta").json
    assert "emails" not in without and "meta" not in without
    assert without["userName"] == "ellen.reckert@contoso.com"


def test_an_hr_synced_person_is_found_and_adopted_not_duplicated(idp, api):
    seed_people(api.relais, [{"id": "e42", "name": "Test User", "email": "test.user@okta.local",
                              "skills": ["Kubernetes"]}])

    probe = idp.find('userName eq "test.user@okta.local"')
    assert [r["id"] for r in probe["Resources"]] == ["e42"]

    adopted = idp.create(fixture("okta_create_user"))
    assert adopted["id"] == "e42"
    card = api.get("/profiles/e42", person="e42").json
    assert (card["user_name"], card["external_id"], card["skills"]) == (
        "test.user@okta.local", "00ujl29u0le5T6Aj10h7", ["Kubernetes"])
    # Claimed now: a second identity with the same email is refused, not merged.
    other = fixture("okta_create_user") | {"userName": "someone.else@okta.local",
                                           "externalId": "00uOTHER"}
    assert_scim_error(idp.call("POST", "/Users", other), 409, "uniqueness")


# Deactivation ----------------------------------------------------------------------------
@pytest.mark.parametrize("patch", ["okta_patch_deactivate", "entra_patch_disable",
                                   "entra_patch_disable_compliant"])
def test_deactivation_leaves_the_directory_but_stays_findable_by_the_idp(idp, api, patch):
    user = idp.create(fixture("entra_create_manager"))
    assert directory_ids(api, "Ellen Reckert") == [user["id"]]

    response = idp.call("PATCH", f"/Users/{user['id']}", fixture(patch))

    assert response.status_code == 200
    assert response.json["active"] is False
    assert response.headers["ETag"] == 'W/"2"'
    assert directory_ids(api, "Ellen Reckert") == []
    # Entra: a disabled user must still be returned, with active false.
    found = idp.find('userName eq "ellen.reckert@contoso.com"')["Resources"]
    assert [(r["id"], r["active"]) for r in found] == [(user["id"], False)]
    assert idp.get(f"/Users/{user['id']}").json["active"] is False


def test_okta_reactivation_brings_the_person_back(idp, api):
    user = idp.create(fixture("okta_create_user"))
    idp.call("PATCH", f"/Users/{user['id']}", fixture("okta_patch_deactivate"))

    response = idp.call("PATCH", f"/Users/{user['id']}", fixture("okta_patch_reactivate"))

    assert response.json["active"] is True
    assert directory_ids(api, "Test User") == [user["id"]]


def test_an_invalid_active_value_is_refused(idp):
    user = idp.create(fixture("okta_create_user"))
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "maybe"}]}

    assert_scim_error(idp.call("PATCH", f"/Users/{user['id']}", body), 400, "invalidValue")
    assert idp.get(f"/Users/{user['id']}").json["active"] is True


# Updates ---------------------------------------------------------------------------------
def test_entra_patch_of_multi_valued_and_name_parts(idp, api):
    user = idp.create(fixture("entra_create_user"))

    response = idp.call("PATCH", f"/Users/{user['id']}", fixture("entra_patch_multi_valued"))

    assert response.status_code == 200
    patched = response.json
    assert patched["emails"] == [{"value": "updatedEmail@microsoft.com", "type": "work",
                                  "primary": True}]
    assert patched["name"] == {"formatted": "givenName updatedFamilyName",
                               "givenName": "givenName", "familyName": "updatedFamilyName"}
    card = api.get(f"/profiles/{user['id']}", person="someone").json
    assert (card["name"], card["email"]) == ("givenName updatedFamilyName",
                                             "updatedEmail@microsoft.com")


def test_entra_patch_userName(idp):
    user = idp.create(fixture("entra_create_user"))

    response = idp.call("PATCH", f"/Users/{user['id']}", fixture("entra_patch_single_valued"))

    assert response.json["userName"] == "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"
    assert idp.find('userName eq "Test_User_00aa00aa-bb11-cc22-dd33-44ee44ee44ee"')[
        "totalResults"] == 0
    assert idp.find('userName eq "5b50642d-79fc-4410-9e90-4c077cdd1a59@testuser.com"')[
        "Resources"][0]["id"] == user["id"]


def test_entra_path_less_replace_with_dotted_keys(idp):
    user = idp.create(fixture("entra_create_user"))

    patched = idp.call("PATCH", f"/Users/{user['id']}", fixture("entra_patch_replace_many")).json

    assert patched["emails"][0]["value"] == "TestMhvaes@test.microsoft.com"
    assert patched["name"]["givenName"] == "Kkom"
    assert patched["name"]["familyName"] == "Unua"
    assert patched["name"]["formatted"] == "Kkom Unua"
    assert patched[ENTERPRISE]["employeeNumber"] == "Aklq"


def test_patch_add_and_remove_with_paths(idp):
    user = idp.create(fixture("okta_create_user"))
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [
        {"op": "add", "path": "title", "value": "Data engineer"},
        {"op": "add", "path": "addresses", "value": [{"type": "work", "locality": "Lyon"}]},
        {"op": "replace", "path": f"{ENTERPRISE}:department", "value": "Data"},
        {"op": "remove", "path": "externalId"},
    ]}

    patched = idp.call("PATCH", f"/Users/{user['id']}", body).json

    assert patched["title"] == "Data engineer"
    assert patched["addresses"] == [{"type": "work", "locality": "Lyon", "primary": True}]
    assert patched[ENTERPRISE] == {"department": "Data"}
    assert "externalId" not in patched

    removed = idp.call("PATCH", f"/Users/{user['id']}", {"Operations": [
        {"op": "remove", "path": "title"},
        {"op": "remove", "path": f"{ENTERPRISE}:department"}]}).json
    assert "title" not in removed and ENTERPRISE not in removed


def test_a_patch_that_changes_nothing_keeps_the_version(idp):
    user = idp.create(fixture("okta_create_user"))
    body = {"Operations": [{"op": "replace", "value": {"active": True}}]}

    response = idp.call("PATCH", f"/Users/{user['id']}", body)

    assert response.status_code == 200
    assert response.headers["ETag"] == 'W/"1"'


def test_okta_put_replaces_the_user(idp, api):
    user = idp.create(fixture("okta_create_user"))

    response = idp.call("PUT", f"/Users/{user['id']}", fixture("okta_put_user", id=user["id"]))

    assert response.status_code == 200
    replaced = response.json
    assert replaced["id"] == user["id"]
    assert replaced["userName"] == "another.user@okta.local"
    assert replaced["name"] == {"formatted": "Another User", "givenName": "Another",
                                "familyName": "User"}
    assert replaced["emails"][0]["value"] == "another.user@okta.local"
    assert "externalId" not in replaced  # PUT replaces: what is not sent is cleared
    assert replaced["locale"] == "en-US"  # ...except languages, which the person owns
    assert response.headers["ETag"] == 'W/"2"'
    assert directory_ids(api, "Another") == [user["id"]]


def test_put_to_a_taken_userName_is_a_conflict(idp):
    first = idp.create(fixture("okta_create_user"))
    second = idp.create(fixture("entra_create_user"))
    body = fixture("okta_put_user", id=second["id"]) | {"userName": first["userName"]}

    assert_scim_error(idp.call("PUT", f"/Users/{second['id']}", body), 409, "uniqueness")


# Manager (enterprise extension) ----------------------------------------------------------
def test_manager_through_the_enterprise_extension(idp, api):
    manager = idp.create(fixture("entra_create_manager"))
    assert manager[ENTERPRISE] == {"department": "Human Resources US", "employeeNumber": "100009"}
    report = fixture("entra_create_user")
    report[ENTERPRISE] = {"department": "Human Resources US",
                          "manager": {"value": manager["id"]}}

    created = idp.create(report)

    assert created[ENTERPRISE]["manager"]["value"] == manager["id"]
    assert created[ENTERPRISE]["manager"]["$ref"].endswith(f"/scim/v2/Users/{manager['id']}")
    card = api.get(f"/profiles/{created['id']}", person="someone").json
    assert (card["manager_id"], card["department"]) == (manager["id"], "Human Resources US")

    removed = idp.call("PATCH", f"/Users/{created['id']}", fixture("entra_patch_remove_manager"))
    assert "manager" not in removed.json[ENTERPRISE]
    assert api.get(f"/profiles/{created['id']}", person="x").json["manager_id"] is None

    # Entra links the manager after creating both, sending the id as a bare string.
    added = idp.call("PATCH", f"/Users/{created['id']}",
                     fixture("entra_patch_add_manager", manager_id=manager["id"]))
    assert added.json[ENTERPRISE]["manager"]["value"] == manager["id"]
    assert api.get(f"/profiles/{created['id']}", person="x").json["manager_id"] == manager["id"]


def test_an_unknown_self_or_cyclic_manager_is_refused(idp):
    manager = idp.create(fixture("entra_create_manager"))
    report = idp.create(fixture("entra_create_user"))

    for manager_id in ("scim-nobody", report["id"]):
        response = idp.call("PATCH", f"/Users/{report['id']}",
                            fixture("entra_patch_add_manager", manager_id=manager_id))
        assert_scim_error(response, 400, "invalidValue")
    idp.call("PATCH", f"/Users/{report['id']}",
             fixture("entra_patch_add_manager", manager_id=manager["id"]))
    cycle = idp.call("PATCH", f"/Users/{manager['id']}",
                     fixture("entra_patch_add_manager", manager_id=report["id"]))
    assert_scim_error(cycle, 400, "invalidValue")
    assert "manager" not in idp.get(f"/Users/{manager['id']}").json.get(ENTERPRISE, {})


# Delete ----------------------------------------------------------------------------------
def test_delete_hides_the_user_everywhere_but_keeps_past_answers(idp, api):
    seed_people(api.relais, [{"id": "asker", "name": "Asker"}])
    user = idp.create(fixture("okta_create_user"))
    question = api.post("/questions", {"title": "How do we deploy on Fridays?"},
                        person="asker").json
    answered = api.post(f"/questions/{question['id']}/answers", {"body": "We do not."},
                        person=user["id"])
    assert answered.status_code == 201

    response = idp.call("DELETE", f"/Users/{user['id']}")

    assert response.status_code == 204
    assert not response.body
    assert_scim_error(idp.get(f"/Users/{user['id']}"), 404)
    assert idp.find('userName eq "test.user@okta.local"')["totalResults"] == 0
    assert user["id"] not in [r["id"] for r in idp.get("/Users").json["Resources"]]
    assert api.get(f"/profiles/{user['id']}", person="asker").status_code == 404
    assert directory_ids(api, "Test User") == []
    answers = api.get(f"/questions/{question['id']}", person="asker").json["answers"]
    assert [(a["body"], a["author"]["name"]) for a in answers] == [("We do not.",
                                                                    FORMER_COLLEAGUE)]
    assert_scim_error(idp.call("DELETE", f"/Users/{user['id']}"), 404)
    # The userName is free again: provisioning the person anew makes a new User.
    again = idp.create(fixture("okta_create_user"))
    assert again["id"] != user["id"]


# Listing ---------------------------------------------------------------------------------
def test_pagination_with_startIndex_and_count(idp):
    created = set()
    for n in range(5):
        body = fixture("okta_create_user") | {"userName": f"user{n}@okta.local",
                                              "externalId": f"00u{n}",
                                              "emails": [{"value": f"user{n}@okta.local",
                                                          "type": "work", "primary": True}]}
        created.add(idp.create(body)["id"])

    seen = []
    for start in (1, 3, 5):
        page = idp.get(f"/Users?startIndex={start}&count=2").json
        assert (page["totalResults"], page["startIndex"]) == (5, start)
        assert page["itemsPerPage"] == len(page["Resources"]) == (1 if start == 5 else 2)
        seen += [r["id"] for r in page["Resources"]]
    assert sorted(seen) == sorted(created)

    assert idp.get("/Users?startIndex=6&count=2").json["Resources"] == []
    counted = idp.get("/Users?count=0").json
    assert (counted["totalResults"], counted["Resources"]) == (5, [])
    assert idp.get("/Users?startIndex=0&count=1").json["startIndex"] == 1  # below 1 means 1
    assert len(idp.get("/Users?count=1000").json["Resources"]) == 5  # capped, not refused


# Discovery -------------------------------------------------------------------------------
def test_discovery_documents(idp):
    config = idp.get("/ServiceProviderConfig", person=None).json
    assert config["patch"]["supported"] is True
    assert config["bulk"]["supported"] is False
    assert config["filter"] == {"supported": True, "maxResults": 200}
    assert config["etag"]["supported"] is True
    assert config["authenticationSchemes"][0]["type"] == "oauthbearertoken"

    types = idp.get("/ResourceTypes").json
    assert types["schemas"] == [LIST]
    assert [(t["id"], t["endpoint"]) for t in types["Resources"]] == [("User", "/Users")]
    assert types["Resources"][0]["schemaExtensions"] == [{"schema": ENTERPRISE,
                                                          "required": False}]

    schemas = idp.get("/Schemas").json
    ids = [s["id"] for s in schemas["Resources"]]
    assert ids == ["urn:ietf:params:scim:schemas:core:2.0:User", ENTERPRISE]
    user_schema = idp.get(f"/Schemas/{ids[0]}").json
    user_name = next(a for a in user_schema["attributes"] if a["name"] == "userName")
    assert (user_name["required"], user_name["uniqueness"]) == (True, "server")
    assert_scim_error(idp.get("/Schemas/urn:example:nothing"), 404)
    assert idp.get("/Groups").json["totalResults"] == 0


# Errors ----------------------------------------------------------------------------------
@pytest.mark.parametrize("filter_text", ['userName co "test"', 'title eq "Engineer"',
                                         "userName eq", 'userName eq "a" or userName eq "b"',
                                         'userName eq "unterminated'])
def test_an_unsupported_filter_is_invalidFilter(idp, filter_text):
    response = idp.get(f"/Users?filter={quote(filter_text)}")
    assert_scim_error(response, 400, "invalidFilter")


def test_unknown_user_is_404_for_every_method(idp):
    for method, body in (("GET", None), ("PUT", fixture("okta_put_user", id="scim-nobody")),
                         ("PATCH", fixture("okta_patch_deactivate")), ("DELETE", None)):
        assert_scim_error(idp.call(method, "/Users/scim-nobody", body), 404)


def test_duplicate_userName_is_409_uniqueness(idp):
    idp.create(fixture("okta_create_user"))
    again = fixture("okta_create_user") | {"userName": "TEST.USER@okta.local",
                                           "externalId": "00uOTHER",
                                           "emails": [{"value": "other@okta.local"}]}

    assert_scim_error(idp.call("POST", "/Users", again), 409, "uniqueness")
    assert_scim_error(idp.call("POST", "/Users", fixture("okta_create_user")), 409, "uniqueness")
    assert idp.get("/Users").json["totalResults"] == 1


def test_an_employee_token_is_403(idp):
    response = idp.call("POST", "/Users", fixture("okta_create_user"), role="employee")
    assert_scim_error(response, 403)
    assert_scim_error(idp.get("/Users", role="employee"), 403)
    assert idp.get("/Users").json["totalResults"] == 0


def test_no_token_is_401(idp):
    response = idp.get("/Users", person=None)
    assert_scim_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_a_stale_If_Match_is_412_and_a_current_one_succeeds(idp):
    user = idp.create(fixture("okta_create_user"))
    idp.call("PATCH", f"/Users/{user['id']}", fixture("okta_patch_deactivate"))  # now W/"2"

    stale = {"If-Match": user["meta"]["version"]}
    assert_scim_error(idp.call("PATCH", f"/Users/{user['id']}", fixture("okta_patch_reactivate"),
                               headers=stale), 412)
    assert_scim_error(idp.call("PUT", f"/Users/{user['id']}",
                               fixture("okta_put_user", id=user["id"]), headers=stale), 412)
    assert_scim_error(idp.call("DELETE", f"/Users/{user['id']}", headers=stale), 412)
    assert idp.get(f"/Users/{user['id']}").json["active"] is False  # nothing was written

    current = idp.call("PATCH", f"/Users/{user['id']}", fixture("okta_patch_reactivate"),
                       headers={"If-Match": 'W/"2"'})
    assert current.status_code == 200
    assert current.json["active"] is True


def test_a_body_over_the_limit_is_413(idp, api):
    limit = api.relais.settings.max_body_bytes
    body = fixture("okta_create_user") | {"displayName": "x" * limit}
    assert_scim_error(idp.call("POST", "/Users", body), 413)


@pytest.mark.parametrize("raw, scim_type", [("{not json", "invalidSyntax"),
                                            ("[]", "invalidSyntax")])
def test_an_unreadable_body_is_400(idp, raw, scim_type):
    assert_scim_error(idp.call("POST", "/Users", raw=raw), 400, scim_type)


@pytest.mark.parametrize("operation, scim_type", [
    ({"op": "move", "path": "title", "value": "x"}, "invalidSyntax"),
    ({"op": "remove"}, "noTarget"),
    ({"op": "replace", "path": "id", "value": "scim-other"}, "mutability"),
    ({"op": "replace", "path": "emails[type eq", "value": "x"}, "invalidPath"),
    ({"op": "replace", "path": "userName", "value": ""}, "invalidValue"),
])
def test_a_bad_patch_operation_is_400(idp, operation, scim_type):
    user = idp.create(fixture("okta_create_user"))
    body = {"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [operation]}

    assert_scim_error(idp.call("PATCH", f"/Users/{user['id']}", body), 400, scim_type)
    assert idp.get(f"/Users/{user['id']}").json == user


def test_a_user_without_userName_is_refused(idp):
    body = fixture("okta_create_user")
    del body["userName"]
    assert_scim_error(idp.call("POST", "/Users", body), 400, "invalidValue")


def test_plain_application_json_is_accepted_too(idp):
    response = idp.call("POST", "/Users", fixture("okta_create_user"),
                        headers={"Content-Type": "application/json"})
    assert response.status_code == 201


# Wiring ----------------------------------------------------------------------------------
def test_a_scim_deactivation_takes_the_person_out_of_the_index(idp, api):
    user = idp.create(fixture("okta_create_user"))
    api.relais.profiles.edit(Caller(user["id"]), user["id"], ProfilePatch(skills=["Kafka"]))
    assert api.relais.index.person_doc_ids(user["id"]) == {f"skills:{user['id']}"}
    idp.call("PATCH", f"/Users/{user['id']}", fixture("okta_patch_deactivate"))
    assert api.relais.index.person_doc_ids(user["id"]) == set()


def test_scim_writes_call_the_change_hook(idp, api):
    seen = []
    api.relais.scim.on_change = lambda profile: seen.append((profile.id, profile.active,
                                                             profile.deleted))
    user = idp.create(fixture("okta_create_user"))
    idp.call("PATCH", f"/Users/{user['id']}", fixture("okta_patch_deactivate"))
    idp.call("DELETE", f"/Users/{user['id']}")

    assert seen == [(user["id"], True, False), (user["id"], False, False),
                    (user["id"], False, True)]
