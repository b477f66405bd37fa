"""The expertise directory through the HTTP API: read, search, edit."""
from __future__ import annotations

import pytest

from tests.conftest import seed_people

PEOPLE = [
    {"id": "u1", "name": "Hélène Dupont", "email": "helene@example.com", "title": "Engineer",
     "grade": "E3", "department": "Platform", "site": "Paris", "languages": ["fr", "en"],
     "skills": ["Kubernetes", "Go"]},
    {"id": "u2", "name": "Bob Martin", "email": "bob@example.com", "department": "Finance",
     "manager_id": "u1", "skills": ["Excel"]},
    {"id": "u3", "name": "Chloé Bernard", "department": "Équipe juridique", "site": "Lyon",
     "skills": ["Droit du travail"]},
    {"id": "hr1", "name": "Hana Ressources", "department": "HR"},
]


@pytest.fixture
def people(api):
    seed_people(api.relais, PEOPLE)
    return api


def ids(response) -> list[str]:
    return [item["id"] for item in response.json["items"]]


# Reading ---------------------------------------------------------------------------------
def test_get_a_profile_shows_hr_fields_and_the_version(people):
    response = people.get("/profiles/u2", person="u3")
    assert response.status_code == 200
    card = response.json
    assert card["name"] == "Bob Martin"
    assert card["email"] == "bob@example.com"
    assert card["department"] == "Finance"
    assert card["manager_id"] == "u1"
    assert card["skills"] == ["Excel"]
    assert card["active"] is True
    assert card["version"] == 1
    assert "deleted" not in card


def test_me_is_the_callers_own_profile(people):
    response = people.get("/me", person="u3")
    assert response.status_code == 200
    assert response.json["id"] == "u3" and response.json["site"] == "Lyon"


def test_unknown_profile_is_a_404(people):
    response = people.get("/profiles/nobody")
    assert response.status_code == 404
    assert response.json["error"]["code"] == "not_found"


def test_a_deleted_profile_is_gone_from_the_directory(people):
    store = people.relais.profile_store
    store.update(store.get("u3").replace(deleted=True))
    assert people.get("/profiles/u3").status_code == 404
    assert "u3" not in ids(people.get("/profiles?q=chloe"))


@pytest.mark.parametrize("viewer,role,sees", [("u2", "employee", False),
                                              ("u1", "employee", True),
                                              ("hr1", "hr", True)])
def test_the_identity_providers_id_is_shown_only_to_the_person_and_hr(people, viewer, role, sees):
    store = people.relais.profile_store
    store.update(store.get("u1").replace(external_id="okta-123"))
    card = people.get("/profiles/u1", person=viewer, role=role).json
    assert ("external_id" in card) is sees
    if sees:
        assert card["external_id"] == "okta-123"


# Searching -------------------------------------------------------------------------------
@pytest.mark.parametrize("query,expected", [
    ("q=helene", ["u1"]),  # name without its accents
    ("q=BOB", ["u2"]),
    ("q=equipe", ["u3"]),  # "equipe" finds "Équipe"
    ("q=%C3%A9quipe", ["u3"]),  # and "équipe" too
    ("q=kubernetes", ["u1"]),  # a declared skill, as a word
    ("q=lyon", ["u3"]),  # the site
    ("q=excel%20droit", ["u2", "u3"]),  # any of the words
    ("skill=go", ["u1"]),
    ("skill=Droit%20du%20travail", ["u3"]),
    ("skill=excel&q=finance", ["u2"]),
    ("skill=excel&q=lyon", []),
    ("q=nothing-like-this", []),
])
def test_search_people_by_name_skill_or_free_text(people, query, expected):
    response = people.get(f"/profiles?{query}")
    assert response.status_code == 200
    assert sorted(ids(response)) == expected
    assert response.json["total"] == len(expected)


def test_without_criteria_the_directory_lists_everyone_active(people):
    response = people.get("/profiles")
    assert ids(response) == ["hr1", "u1", "u2", "u3"]
    assert response.json["total"] == 4 and response.json["next_cursor"] is None


def test_search_is_paginated_with_a_stable_cursor(api):
    seed_people(api.relais, [{"id": f"a{n:02d}", "name": f"Analyst {n}", "skills": ["SQL"]}
                             for n in range(25)] + [{"id": "zz", "name": "Someone Else"}])
    first = api.get("/profiles?q=sql&limit=10", person="a00")
    assert first.status_code == 200
    assert len(first.json["items"]) == 10 and first.json["total"] == 25
    cursor = first.json["next_cursor"]
    second = api.get(f"/profiles?q=sql&limit=10&cursor={cursor}", person="a00")
    again = api.get(f"/profiles?q=sql&limit=10&cursor={cursor}", person="a00")
    assert ids(second) == ids(again)
    third = api.get(f"/profiles?q=sql&limit=10&cursor={second.json['next_cursor']}",
                    person="a00")
    assert len(third.json["items"]) == 5 and third.json["next_cursor"] is None
    seen = ids(first) + ids(second) + ids(third)
    assert sorted(seen) == [f"a{n:02d}" for n in range(25)]
    assert all(page.json["total"] == 25 for page in (first, second, third))


def test_listing_pages_cover_everyone_once(api):
    seed_people(api.relais, [{"id": f"p{n:02d}", "name": f"P {n}"} for n in range(7)])
    seen, cursor = [], None
    while True:
        response = api.get("/profiles?limit=3" + (f"&cursor={cursor}" if cursor else ""),
                           person="p00")
        seen += ids(response)
        cursor = response.json["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"p{n:02d}" for n in range(7)]


# Editing one's own profile ---------------------------------------------------------------
def test_edit_your_own_profile(people):
    response = people.patch("/profiles/u2", {
        "bio": "Budgets, forecasts and pivot tables.", "skills": ["Excel", "Power BI"],
        "languages": ["en", "de"], "site": "Berlin", "away_until": "2026-02-01",
        "routing_opt_out": True}, person="u2")
    assert response.status_code == 200
    card = people.get("/profiles/u2", person="u3").json
    assert card["bio"] == "Budgets, forecasts and pivot tables."
    assert card["skills"] == ["Excel", "Power BI"]
    assert card["languages"] == ["en", "de"]
    assert card["site"] == "Berlin"
    assert card["away_until"] == "2026-02-01"
    assert card["routing_opt_out"] is True
    assert card["version"] == 2
    assert response.json == people.get("/profiles/u2", person="u2").json


def test_an_edit_is_searchable_at_once(people):
    people.patch("/profiles/u2", {"skills": ["Rust"], "bio": "Treasury systems"}, person="u2")
    assert ids(people.get("/profiles?skill=rust")) == ["u2"]
    assert ids(people.get("/profiles?q=treasury")) == ["u2"]
    assert people.get("/profiles?skill=excel").json["items"] == []


def test_coming_back_clears_away_until(people):
    people.patch("/profiles/u2", {"away_until": "2026-02-01"}, person="u2")
    response = people.patch("/profiles/u2", {"away_until": None}, person="u2")
    assert response.status_code == 200 and response.json["away_until"] is None


def test_fields_left_out_of_an_edit_are_kept(people):
    people.patch("/profiles/u1", {"bio": "Platform lead"}, person="u1")
    card = people.get("/profiles/u1").json
    assert card["skills"] == ["Kubernetes", "Go"] and card["site"] == "Paris"
    assert card["title"] == "Engineer" and card["bio"] == "Platform lead"


def test_nobody_edits_someone_elses_profile(people):
    response = people.patch("/profiles/u1", {"bio": "hacked"}, person="u2")
    assert response.status_code == 403
    assert response.json["error"]["details"][0]["field"] == "bio"
    assert people.get("/profiles/u1").json["bio"] == ""


@pytest.mark.parametrize("field,value", [
    ("title", "CEO"), ("grade", "E9"), ("department", "Board"), ("manager_id", "u3"),
    ("email", "me@evil.example"), ("active", False), ("name", "Someone Else"),
    ("employee_number", "0001")])
def test_hr_fields_are_shown_but_only_hr_changes_them(people, field, value):
    before = people.get("/profiles/u2", person="u2").json
    refused = people.patch("/profiles/u2", {field: value}, person="u2")
    assert refused.status_code == 403
    assert [d["field"] for d in refused.json["error"]["details"]] == [field]
    assert people.get("/profiles/u2", person="u2").json == before
    allowed = people.patch("/profiles/u2", {field: value}, person="hr1", role="hr")
    assert allowed.status_code == 200
    assert people.get("/profiles/u2", person="hr1", role="hr").json[field] == value


def test_a_mixed_edit_with_an_hr_field_changes_nothing(people):
    response = people.patch("/profiles/u2", {"bio": "hello", "title": "CEO"}, person="u2")
    assert response.status_code == 403
    card = people.get("/profiles/u2").json
    assert card["bio"] == "" and card["title"] == ""


def test_hr_sets_a_manager_that_exists(people):
    response = people.patch("/profiles/u3", {"manager_id": "ghost"}, person="hr1", role="hr")
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == "manager_id"


@pytest.mark.parametrize("target,manager", [("u1", "u1"), ("u1", "u2")])
def test_hr_cannot_make_a_management_cycle(people, target, manager):
    # u2 reports to u1: u1 cannot report to u2 (nor to themselves).
    response = people.patch(f"/profiles/{target}", {"manager_id": manager}, person="hr1",
                            role="hr")
    assert response.status_code == 422
    assert response.json["error"]["details"][0]["field"] == "manager_id"
    assert people.get(f"/profiles/{target}").json["manager_id"] is None


def test_an_edit_with_the_current_version_succeeds_and_a_stale_one_is_a_409(people):
    ok = people.patch("/profiles/u2", {"bio": "first", "version": 1}, person="u2")
    assert ok.status_code == 200 and ok.json["version"] == 2
    stale = people.patch("/profiles/u2", {"bio": "second", "version": 1}, person="u2")
    assert stale.status_code == 409
    assert stale.json["error"]["details"][0]["field"] == "version"
    assert people.get("/profiles/u2").json["bio"] == "first"


def test_hr_deactivating_someone_hides_them_from_search(people):
    assert people.patch("/profiles/u3", {"active": False}, person="hr1",
                        role="hr").status_code == 200
    assert people.get("/profiles?q=chloe").json["items"] == []
    assert "u3" not in ids(people.get("/profiles"))
    assert people.get("/profiles/u3").json["active"] is False


def test_expertise_inferred_from_answers_is_visible_and_muting_is_the_persons(people):
    asked = people.post("/questions", {"title": "Helm chart upgrade fails", "tags": ["helm"]},
                        person="u2").json["id"]
    assert people.post(f"/questions/{asked}/answers", {"body": "Roll back first."},
                       person="u1").status_code == 201
    seen = people.get("/profiles/u1/expertise", person="u3")
    assert seen.status_code == 200
    assert [(e["tag"], e["answers"], e["muted"]) for e in seen.json["inferred"]] == [
        ("helm", 1, False)]
    assert seen.json["declared"] == ["Kubernetes", "Go"]
    assert people.patch("/profiles/u1", {"muted_tags": ["helm"]}, person="u3").status_code == 403
    muted = people.patch("/profiles/u1", {"muted_tags": ["Helm"]}, person="u1")
    assert muted.status_code == 200 and muted.json["muted_tags"] == ["helm"]
    assert people.get("/profiles/u1/expertise", person="u3").json["inferred"][0]["muted"] is True
    assert people.get("/profiles/nobody/expertise").status_code == 404
