"""Modules switched on one by one: a switched-off module's routes answer 404, leave the
OpenAPI description and GET /modules (what the widget reads); admins switch them, audited."""
from __future__ import annotations

import pytest
from openapi_spec_validator import validate

import app as app_module
from chalicelib.bootstrap import bootstrap
from chalicelib.config import SettingsError
from chalicelib.services.modules import MODULES
from tests.api.test_communities import ADMIN, PEOPLE, api_with, fields_of, make_community
from tests.conftest import make_settings, seed_people

# One route of each module, with a caller allowed to use it when the module is on.
MODULE_ROUTES = {
    "email": [("GET", "/admin/mail", ADMIN), ("POST", "/admin/mail/digests", ADMIN)],
    "communities": [("GET", "/communities", {"person": "u1"}),
                    ("POST", "/communities/{cid}/membership", {"person": "u1"})],
    "recognition": [("GET", "/communities/{cid}/relay-members", ADMIN),
                    ("GET", "/profiles/u2/thanks", {"person": "u1"})],
    "analytics": [("GET", "/figures", ADMIN)],
}


@pytest.fixture
def world(api):
    seed_people(api.relais, PEOPLE)
    api.cid = make_community(api)
    return api


def switch(api, **changes):
    response = api.put("/admin/modules", changes, **ADMIN)
    assert response.status_code == 200, response.json
    return response.json


def described_paths(api) -> set[str]:
    return set(api.get("/openapi.json", person=None).json["paths"])


def test_every_module_is_on_by_default(world):
    assert world.get("/modules", person="u1").json == {"modules": {m: True for m in MODULES}}


def test_every_switchable_route_names_a_known_module():
    modules = {spec.module for spec in app_module.api.specs if spec.module}
    assert modules == {"email", "communities", "recognition", "analytics"}
    # anonymous is a field of POST /questions, not a route
    assert set(MODULES) == modules | {"anonymous"}


@pytest.mark.parametrize("module", sorted(MODULE_ROUTES))
def test_a_switched_off_module_answers_404_and_leaves_the_description(world, module):
    for method, path, who in MODULE_ROUTES[module]:
        assert world.call(method, path.format(cid=world.cid), **who).status_code < 400
    switch(world, **{module: False})
    assert world.get("/modules", person="u1").json["modules"][module] is False
    paths = described_paths(world)
    for method, path, who in MODULE_ROUTES[module]:
        response = world.call(method, path.format(cid=world.cid), **who)
        assert response.status_code == 404, (path, response.json)
        assert response.json["error"]["code"] == "not_found"
        assert path.replace("{cid}", "{community_id}").replace("u2", "{profile_id}") \
            not in paths
    validate(world.get("/openapi.json", person=None).json)
    switch(world, **{module: True})
    for method, path, who in MODULE_ROUTES[module]:
        assert world.call(method, path.format(cid=world.cid), **who).status_code < 400


def test_recognition_needs_communities(world):
    switch(world, communities=False)
    states = world.get("/modules", person="u1").json["modules"]
    assert states["communities"] is False and states["recognition"] is False
    admin_view = {m["name"]: m for m in world.get("/admin/modules", **ADMIN).json["modules"]}
    assert admin_view["recognition"]["on"] is True
    assert admin_view["recognition"]["effective"] is False
    assert admin_view["recognition"]["requires"] == ["communities"]
    assert world.get(f"/communities/{world.cid}/relay-members", **ADMIN).status_code == 404
    assert not any(p.startswith("/communities") for p in described_paths(world))


def test_asking_uses_only_modules_that_are_on(world):
    switch(world, anonymous=False, communities=False)
    anonymous = world.post("/questions", {"title": "Is my salary fair?", "anonymous": True},
                           person="u1")
    assert anonymous.status_code == 422 and fields_of(anonymous) == ["anonymous"]
    in_community = world.post("/questions", {"title": "kafka lag", "community_id": world.cid},
                              person="u1")
    assert in_community.status_code == 422 and fields_of(in_community) == ["community_id"]
    assert world.get("/questions", person="u1").json["total"] == 0
    plain = world.post("/questions", {"title": "kafka lag", "anonymous": False}, person="u1")
    assert plain.status_code == 201
    switch(world, anonymous=True)
    assert world.post("/questions", {"title": "Is my salary fair?", "anonymous": True},
                      person="u1").status_code == 201


def test_routing_ignores_communities_while_they_are_off(world, clock):
    question_id = world.post("/questions", {"title": "kafka lag", "community_id": world.cid},
                             person="u1").json["id"]
    world.put(f"/communities/{world.cid}/roles/u6", {"role": "manager"}, **ADMIN)
    switch(world, communities=False)
    relais = world.relais
    for _ in range(3):
        clock.advance(hours=relais.settings.answer_deadline_hours + 1)
        relais.routing.escalate_due()
    reasons = {r.reason for r in relais.question_store.relays_for_question(question_id)}
    assert "community_manager" not in reasons


@pytest.mark.parametrize("person, role, expected", [
    ("u1", "employee", 403), ("hr1", "hr", 403), ("adm", "admin", 200)])
def test_only_admins_see_and_switch_modules(world, person, role, expected):
    assert world.get("/admin/modules", person=person, role=role).status_code == expected
    response = world.put("/admin/modules", {"email": False}, person=person, role=role)
    assert response.status_code == expected
    assert world.get("/modules", person="u1").json["modules"]["email"] is (expected != 200)


@pytest.mark.parametrize("body, field", [
    ({"gamification": True}, "gamification"),
    ({"email": "no"}, "email"),
    ({"email": None}, "email"),
    ({"version": -1}, "version"),
])
def test_module_switch_errors_name_the_field(world, body, field):
    response = world.put("/admin/modules", body, **ADMIN)
    assert response.status_code == 422
    assert field in fields_of(response)


def test_module_changes_are_stored_versioned_and_audited(world):
    assert world.get("/admin/modules", **ADMIN).json["version"] == 0
    changed = switch(world, analytics=False, version=0)
    assert changed["version"] == 1
    stale = world.put("/admin/modules", {"analytics": True, "version": 0}, **ADMIN)
    assert stale.status_code == 409 and fields_of(stale) == ["version"]
    assert switch(world, analytics=False)["version"] == 1  # no change, no write
    assert world.put("/admin/modules", {}, **ADMIN).status_code == 422
    entries = world.get("/admin/audit?action=modules.changed", **ADMIN).json["items"]
    assert len(entries) == 1 and entries[0]["actor_id"] == "adm"
    assert entries[0]["details"]["changed"] == {"analytics": False}


def test_a_deployment_starts_with_the_modules_it_names_off(tmp_path, clock, embedder):
    with api_with(tmp_path, clock, embedder, modules_off="analytics, email") as api:
        seed_people(api.relais, PEOPLE)
        states = api.get("/modules", person="u1").json["modules"]
        assert states["analytics"] is False and states["email"] is False
        assert states["communities"] is True
        assert api.get("/figures", **ADMIN).status_code == 404
        assert "/figures" not in described_paths(api)
        switch(api, analytics=True)
        assert api.get("/figures", **ADMIN).status_code == 200


def test_an_unknown_module_in_the_settings_is_refused(tmp_path, clock, embedder):
    with pytest.raises(SettingsError,
                       match="RELAIS_MODULES_OFF names unknown module.*gamification"):
        bootstrap(make_settings(tmp_path, modules_off="gamification"), clock=clock,
                  embedder=embedder)


def test_the_description_lists_the_new_routes_when_on(world):
    paths = described_paths(world)
    assert {"/communities", "/communities/{community_id}/relay-members", "/figures",
            "/me/export", "/admin/audit", "/admin/modules", "/modules"} <= paths
    assert "delete" in world.get("/openapi.json", person=None).json["paths"]["/me"]
