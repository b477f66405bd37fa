"""Settings from the environment, and the embedded profile's tokens and caller identification."""
from __future__ import annotations

import os
import stat

import jwt
import pytest

from chalicelib.auth import Caller, TokenIssuer, identify, token_secret
from chalicelib.config import Settings
from chalicelib.errors import Unauthorized

SECRET = "unit-test-secret-0123456789-abcdefghij"


# Settings --------------------------------------------------------------------------------
def test_settings_are_read_from_relais_variables_with_their_types():
    settings = Settings.from_env({
        "RELAIS_PORT": "9001", "RELAIS_DEMO": "yes", "RELAIS_OPEN_RELAY_DAMPING": "0.5",
        "RELAIS_DATA_DIR": "/srv/relais", "RELAIS_MAX_BODY_BYTES": "2048",
        "RELAIS_ESCALATE_TO_MANAGERS": "off", "PORT": "1", "OTHER_DEMO": "true"})
    assert settings.port == 9001
    assert settings.demo is True
    assert settings.open_relay_damping == 0.5
    assert settings.data_dir == "/srv/relais"
    assert settings.max_body_bytes == 2048
    assert settings.escalate_to_managers is False


@pytest.mark.parametrize("raw,expected", [("1", True), ("true", True), ("TRUE", True),
                                          ("on", True), (" yes ", True), ("0", False),
                                          ("false", False), ("no", False), ("", False)])
def test_boolean_settings(raw, expected):
    assert Settings.from_env({"RELAIS_DEMO": raw}).demo is expected


def test_keyword_overrides_win_over_the_environment():
    settings = Settings.from_env({"RELAIS_PORT": "9001"}, port=1234)
    assert settings.port == 1234


def test_defaults_without_environment():
    settings = Settings.from_env({})
    assert settings.backend == "embedded"
    assert settings.max_body_bytes == 1_000_000
    assert settings.hr_sync_max_items == 1000
    assert settings.database == os.path.join("var", "relais.db")
    assert settings.base_url == "http://127.0.0.1:8000"


def test_database_and_public_url_derive_from_other_settings():
    assert Settings(data_dir="/d").database == "/d/relais.db"
    assert Settings(data_dir="/d", db_path=":memory:").database == ":memory:"
    assert Settings(host="0.0.0.0", port=80).base_url == "http://0.0.0.0:80"
    assert Settings(public_url="https://relais.example.com").base_url == \
        "https://relais.example.com"


def test_a_malformed_number_is_refused_at_start():
    with pytest.raises(ValueError):
        Settings.from_env({"RELAIS_PORT": "eighty"})


# Token secret ----------------------------------------------------------------------------
def test_the_configured_secret_is_used(tmp_path):
    assert token_secret(Settings(data_dir=str(tmp_path), token_secret="given")) == "given"
    assert not (tmp_path / "token-secret").exists()


def test_a_secret_is_generated_once_kept_private_and_reused(tmp_path):
    settings = Settings(data_dir=str(tmp_path / "data"))
    first = token_secret(settings)
    assert len(first) >= 32
    path = tmp_path / "data" / "token-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert token_secret(settings) == first
    # Tokens survive a restart: a new issuer with the kept secret verifies old tokens.
    token = TokenIssuer(first).issue("u1", "hr")
    assert TokenIssuer(token_secret(settings)).verify(token) == Caller("u1", "hr")


# Tokens ----------------------------------------------------------------------------------
@pytest.mark.parametrize("role", ["employee", "hr", "admin"])
def test_a_token_carries_the_person_and_role(role):
    issuer = TokenIssuer(SECRET)
    caller = issuer.verify(issuer.issue("u1", role))
    assert caller == Caller("u1", role)
    assert caller.is_hr is (role in ("hr", "admin"))
    assert caller.is_admin is (role == "admin")


def test_an_unknown_role_cannot_be_issued():
    with pytest.raises(ValueError):
        TokenIssuer(SECRET).issue("u1", "root")


def test_tokens_expire_after_their_lifetime():
    claims = jwt.decode(TokenIssuer(SECRET, ttl_hours=2).issue("u1"), SECRET,
                        algorithms=["HS256"])
    assert claims["exp"] - claims["iat"] == 7200
    with pytest.raises(Unauthorized, match="expired"):
        TokenIssuer(SECRET, ttl_hours=-1).verify(TokenIssuer(SECRET, ttl_hours=-1).issue("u1"))


@pytest.mark.parametrize("token", [
    "", "garbage", "a.b.c",
    jwt.encode({"sub": "u1", "exp": 4102444800}, "another-secret-0123456789-abcdefghij",
               algorithm="HS256"),
    jwt.encode({"sub": "u1", "role": "admin"}, SECRET, algorithm="HS256"),  # no expiry
    jwt.encode({"role": "admin", "exp": 4102444800}, SECRET, algorithm="HS256"),  # no subject
    jwt.encode({"sub": "", "exp": 4102444800}, SECRET, algorithm="HS256"),
    jwt.encode({"sub": 42, "exp": 4102444800}, SECRET, algorithm="HS256"),
    jwt.encode({"sub": "u1", "role": "root", "exp": 4102444800}, SECRET, algorithm="HS256"),
    jwt.encode({"sub": "u1", "role": "admin", "exp": 4102444800}, None, algorithm="none"),
])
def test_invalid_tokens_are_refused(token):
    with pytest.raises(Unauthorized):
        TokenIssuer(SECRET).verify(token)


def test_a_token_without_role_is_an_employee():
    token = jwt.encode({"sub": "u1", "exp": 4102444800}, SECRET, algorithm="HS256")
    assert TokenIssuer(SECRET).verify(token) == Caller("u1", "employee")


# identify --------------------------------------------------------------------------------
def test_identify_reads_the_bearer_header_whatever_its_case():
    issuer = TokenIssuer(SECRET)
    token = issuer.issue("u7", "hr")
    for headers in ({"Authorization": f"Bearer {token}"}, {"authorization": f"bearer {token}"},
                    {"AUTHORIZATION": f"BEARER   {token}  "}):
        assert identify(headers, {}, issuer) == Caller("u7", "hr")


@pytest.mark.parametrize("headers", [{}, {"Authorization": ""}, {"Authorization": "Bearer"},
                                     {"Authorization": "Basic dTE6cHc="},
                                     {"X-Authorization": "Bearer abc"}])
def test_identify_without_a_bearer_token_is_unauthorized(headers):
    with pytest.raises(Unauthorized):
        identify(headers, {}, TokenIssuer(SECRET))


@pytest.mark.parametrize("claims,expected", [
    ({"sub": "cognito-1"}, Caller("cognito-1", "employee")),
    ({"sub": "cognito-1", "custom:relais_id": "u1"}, Caller("u1", "employee")),
    ({"sub": "c", "custom:relais_id": "u1", "cognito:groups": "relais-hr"}, Caller("u1", "hr")),
    ({"sub": "c", "cognito:groups": "staff,relais-admin"}, Caller("c", "admin")),
    ({"sub": "c", "custom:relais_role": "hr", "cognito:groups": "relais-admin"},
     Caller("c", "hr")),
])
def test_behind_an_authorizer_the_callers_claims_decide(claims, expected):
    context = {"authorizer": {"claims": claims}}
    assert identify({}, context, None) == expected


def test_authorizer_claims_are_ignored_where_tokens_are_verified_locally():
    """On the embedded profile nobody may forge a context: only the bearer token counts."""
    context = {"authorizer": {"claims": {"sub": "u1", "custom:relais_role": "admin"}}}
    with pytest.raises(Unauthorized):
        identify({}, context, TokenIssuer(SECRET))


def test_without_authorizer_or_issuer_nobody_gets_in():
    with pytest.raises(Unauthorized):
        identify({"Authorization": "Bearer something"}, {}, None)


def test_an_hr_systems_client_credentials_token_acts_as_hr():
    from chalicelib.auth import identify
    context = {"authorizer": {"claims": {"sub": "7f3a", "client_id": "7f3a",
                                         "scope": "relais/hr-sync", "token_use": "access"}}}
    caller = identify({}, context, None)
    assert (caller.id, caller.role) == ("7f3a", "hr")
    employee = identify({}, {"authorizer": {"claims": {"sub": "u1", "scope": "openid"}}}, None)
    assert employee.role == "employee"
