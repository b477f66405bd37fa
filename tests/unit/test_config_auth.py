"""Settings from the environment, and the embedded profile's tokens and caller identification."""
from __future__ import annotations

import dataclasses
import os
import re
import stat
from pathlib import Path

import jwt
import pytest

from chalicelib.auth import Caller, TokenIssuer, identify, token_secret
from chalicelib.__main__ import main as cli_main
from chalicelib.config import Settings, SettingsError
from chalicelib.errors import Unauthorized
from indexer.__main__ import main as reindex_main

ROOT = Path(__file__).resolve().parents[2]
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
                                          ("false", False), ("no", False), ("off", False),
                                          ("", False)])
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


@pytest.mark.parametrize("variable,raw,message", [
    ("RELAIS_PORT", "eighty", "RELAIS_PORT must be a whole number, not 'eighty'"),
    ("RELAIS_RELAY_COUNT", "2.5", "RELAIS_RELAY_COUNT must be a whole number, not '2.5'"),
    ("RELAIS_OPEN_RELAY_DAMPING", "a lot", "RELAIS_OPEN_RELAY_DAMPING must be a number"),
    ("RELAIS_ANSWER_DEADLINE_HOURS", "inf", "RELAIS_ANSWER_DEADLINE_HOURS must be a number"),
    ("RELAIS_DEMO", "maybe", "RELAIS_DEMO must be true or false"),
    ("RELAIS_RELAY_COUNT", "-1", "RELAIS_RELAY_COUNT must be at least 0, not -1"),
    ("RELAIS_ANSWER_DEADLINE_HOURS", "0", "RELAIS_ANSWER_DEADLINE_HOURS must be more than 0"),
    ("RELAIS_RECENCY_HALF_LIFE_DAYS", "-3", "RELAIS_RECENCY_HALF_LIFE_DAYS must be more than 0"),
    ("RELAIS_SIMILAR_MIN_COSINE", "1.5", "RELAIS_SIMILAR_MIN_COSINE must be at most 1"),
    ("RELAIS_PORT", "70000", "RELAIS_PORT must be at most 65535"),
    ("RELAIS_MAX_OPEN_RELAYS", "0", "RELAIS_MAX_OPEN_RELAYS must be more than 0"),
    ("RELAIS_BACKEND", "mysql", "RELAIS_BACKEND must be one of embedded, aws, not 'mysql'"),
    ("RELAIS_WORKING_DAYS", "mon,funday", "RELAIS_WORKING_DAYS must be some of mon, tue"),
    ("RELAIS_HOLIDAYS", "2026-12-25,xmas", "RELAIS_HOLIDAYS must be dates like 2026-12-25"),
    ("RELAIS_TIME_ZONE", "Paris", "RELAIS_TIME_ZONE must be a name like Europe/Paris"),
])
def test_a_setting_that_cannot_be_used_is_refused_at_start_with_its_name(variable, raw, message):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: raw})
    assert str(refused.value).startswith(message)


def test_limits_hold_for_settings_given_in_code_too():
    with pytest.raises(SettingsError, match="RELAIS_SNOOZE_HOURS must be more than 0"):
        Settings(snooze_hours=0)
    assert Settings(relay_count=0, management_chain_depth=0, port=0).relay_count == 0


def test_the_working_calendar_comes_from_settings():
    calendar = Settings.from_env({"RELAIS_WORKING_DAYS": "sun,mon,tue,wed,thu",
                                  "RELAIS_HOLIDAYS": "2026-12-24",
                                  "RELAIS_TIME_ZONE": "Asia/Jerusalem"}).calendar
    assert calendar.weekdays == {6, 0, 1, 2, 3}
    assert [str(d) for d in calendar.holidays] == ["2026-12-24"]
    assert calendar.zone.key == "Asia/Jerusalem"
    assert Settings().calendar.weekdays == {0, 1, 2, 3, 4}


@pytest.mark.parametrize("command", [["serve"], ["token", "p1"]])
def test_the_command_line_says_which_setting_is_wrong_and_stops(command, monkeypatch, capsys):
    monkeypatch.setenv("RELAIS_RELAY_COUNT", "three")
    assert cli_main(command) == 2
    assert capsys.readouterr().err == \
        "relais: RELAIS_RELAY_COUNT must be a whole number, not 'three'\n"


def test_an_unknown_module_stops_the_command_line_with_the_setting_named(tmp_path, monkeypatch,
                                                                        capsys):
    monkeypatch.setenv("RELAIS_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("RELAIS_MODULES_OFF", "emial")
    assert cli_main(["serve"]) == 2
    assert capsys.readouterr().err.startswith(
        "relais: RELAIS_MODULES_OFF names unknown module(s): emial (known: email,")


def test_reindex_says_which_setting_is_wrong_and_stops(monkeypatch, capsys):
    monkeypatch.setenv("RELAIS_TIME_ZONE", "Atlantis")
    assert reindex_main(["reindex"]) == 2
    assert "RELAIS_TIME_ZONE must be a name like Europe/Paris" in capsys.readouterr().err


def test_every_setting_is_documented_and_every_documented_one_exists():
    documented = set(re.findall(r"`(RELAIS_[A-Z_]+)`",
                                (ROOT / "docs" / "configuration.md").read_text()))
    assert documented == {"RELAIS_" + f.name.upper() for f in dataclasses.fields(Settings)}


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
