"""GET /openapi.json: a valid OpenAPI 3 document that tells the truth about the routes, and
a schemathesis run of it against the real local server that finds no 5xx."""
from __future__ import annotations

import os
import re

import hypothesis
import pytest
import requests
import schemathesis
from hypothesis import HealthCheck
from hypothesis import strategies as st
from openapi_spec_validator import validate
from schemathesis import GenerationMode

import app as app_module
from chalicelib.auth import Caller
from chalicelib.bootstrap import bootstrap
from chalicelib.openapi import describe
from chalicelib.schemas import AnswerIn, QuestionIn
from tests.api.live_server import live_server
from tests.conftest import make_settings, seed_people
from tests.fakes import FakeEmbedder


@pytest.fixture
def document(api):
    response = api.get("/openapi.json", person=None)
    assert response.status_code == 200
    return response.json


def test_the_document_is_valid_openapi_3(document):
    validate(document)  # raises with the offending part if not
    assert document["openapi"].startswith("3.")
    assert document["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer"


def test_every_route_is_described_with_its_methods_and_nothing_else(document):
    routes = {path: {m.lower() for m in methods} for path, methods in app_module.app.routes.items()}
    described = {path: set(item) for path, item in document["paths"].items()}
    assert described == routes


def test_the_security_of_each_operation_matches_the_route(document):
    specs = {(s.path, s.method.lower()): s for s in app_module.api.specs}
    for path, item in document["paths"].items():
        for method, operation in item.items():
            spec = specs[(path, method)]
            if spec.auth:
                assert "security" not in operation  # the document default: bearer
                assert "401" in operation["responses"]
            else:
                assert operation["security"] == []


def test_request_bodies_reject_unknown_fields_and_bound_their_strings(document):
    schemas = document["components"]["schemas"]
    for name in ("ProfilePatch", "QuestionIn", "AnswerIn", "AnswerEdit", "Vote", "Accept",
                 "HrSync"):
        assert schemas[name]["additionalProperties"] is False, name
    assert schemas["QuestionIn"]["properties"]["title"]["maxLength"] == 300
    assert "title" in schemas["QuestionIn"]["required"]
    # Fields that cannot be null are not described as nullable.
    assert schemas["ProfilePatch"]["properties"]["bio"]["type"] == "string"


def test_operation_ids_are_unique(document):
    ids = [op["operationId"] for item in document["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_the_error_shape_is_described(document):
    error = document["components"]["schemas"]["Error"]
    assert error["properties"]["error"]["required"] == ["code", "message", "details"]
    patch = document["paths"]["/profiles/{profile_id}"]["patch"]
    assert {"400", "401", "403", "404", "409", "413", "422"} <= set(patch["responses"])


# Schemathesis ----------------------------------------------------------------------------
SCHEMA = schemathesis.openapi.from_dict(describe(app_module.api.specs))
OPERATIONS = [result.ok() for result in SCHEMA.get_all_operations()]
# Cases per operation. Generating one costs up to ~0.1 s, so by default writes (where bodies
# hide most bugs) get more than reads and the file runs in about half a minute;
# FUZZ_EXAMPLES=200 makes a deeper run.
DEEP = os.environ.get("FUZZ_EXAMPLES")


def examples_for(operation) -> int:
    if DEEP:
        return int(DEEP)
    return 10 if operation.method.upper() in ("GET", "DELETE") else 40


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """The real local server with a small seeded organisation, shared by the fuzz tests."""
    relais = bootstrap(make_settings(tmp_path_factory.mktemp("fuzz")), embedder=FakeEmbedder())
    seed_people(relais, [
        {"id": "p1", "name": "Hélène Dupont", "skills": ["Python", "SQL"], "department": "Data"},
        {"id": "p2", "name": "Bob Martin", "manager_id": "p1", "skills": ["Excel"]},
        {"id": "p3", "name": "Ada Admin"},
        {"id": "p4", "name": "Leaver", "active": False}])
    question = relais.questions.ask(Caller("p2"), QuestionIn(title="How do I read Parquet?",
                                                             tags=["python"]))
    answer = relais.questions.answer(Caller("p1"), question.id, AnswerIn(body="pyarrow"))
    with live_server(relais) as live:
        live.known = {"profile_id": ["p1", "p2", "p4"], "question_id": [question.id],
                      "answer_id": [answer.id]}
        live.tokens = [relais.tokens.issue("p3", "admin"), relais.tokens.issue("p2"),
                       relais.tokens.issue("p1", "hr")]
        yield live


def cases(operation, server):
    """Valid and invalid cases for `operation`. Path ids are sometimes generated (valid cases)
    and otherwise ones that exist, so the deeper code runs too; invalid cases spend their
    effort on what a client sends: query and body. The token is set when sending."""
    names = re.findall(r"{(\w+)}", operation.path)
    headers = {"Authorization": "Bearer set-when-sent"}
    existing = st.fixed_dictionaries({name: st.sampled_from(server.known.get(name, ["x"]))
                                      for name in names})
    targeted = [existing.flatmap(lambda ids, mode=mode: operation.as_strategy(
        generation_mode=mode, headers=headers, path_parameters=ids)) for mode in MODES]
    if names:
        targeted.append(operation.as_strategy(generation_mode=GenerationMode.POSITIVE,
                                              headers=headers))
    return st.tuples(st.one_of(targeted), st.booleans()).map(without_version_sometimes)


def without_version_sometimes(pair):
    """A generated `version` is almost never the current one, so the edit stops at 409;
    half the time leave it out so that the edit itself runs."""
    case, drop = pair
    if drop and isinstance(case.body, dict):
        case.body.pop("version", None)
    return case


MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]


@pytest.mark.parametrize("operation", OPERATIONS, ids=lambda op: op.label)
def test_no_input_makes_the_server_fail(server, operation):
    app_module.use(server.relais)  # other tests of this module serve their own Relais
    failures = []

    @hypothesis.settings(max_examples=examples_for(operation), deadline=None, database=None,
                         derandomize=True, suppress_health_check=list(HealthCheck),
                         phases=[hypothesis.Phase.explicit, hypothesis.Phase.generate])
    @hypothesis.given(case=cases(operation, server))
    def run(case):
        # Generating a case costs far more than sending it: send each as every role.
        for token in server.tokens:
            case.headers["Authorization"] = f"Bearer {token}"
            with requests.Session() as session:  # one connection per request
                response = case.call(base_url=server.url, session=session)
            if response.status_code >= 500:
                failures.append(f"{response.status_code} {case.as_curl_command()}\n"
                                f"  -> {response.text[:300]}")

    run()
    assert not failures, "\n".join(failures[:5])
