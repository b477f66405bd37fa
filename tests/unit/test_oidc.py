"""Sign-in with the company's identity provider on the embedded profile: a provider served
locally (discovery document and key set over HTTP, RSA keys) signs the tokens."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
import pytest
from chalice.test import Client
from cryptography.hazmat.primitives.asymmetric import rsa

import app as app_module

from chalicelib.auth import identify
from chalicelib.bootstrap import bootstrap
from chalicelib.config import Settings, SettingsError
from chalicelib.errors import ServiceUnavailable, Unauthorized
from chalicelib.oidc import OidcVerifier
from tests.conftest import make_settings

AUDIENCE = "relais-widget"


def rsa_key():
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


class Provider:
    """An OpenID provider as far as a resource server sees it: its discovery document, its
    key set, and tokens signed with its private key."""

    def __init__(self):
        self.key = rsa_key()
        self.kid = "key-1"
        self.requests = 0
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                provider.requests += 1
                if self.path == "/.well-known/openid-configuration":
                    body = {"issuer": provider.issuer, "jwks_uri": provider.issuer + "/keys"}
                elif self.path == "/keys":
                    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(
                        provider.key.public_key()))
                    body = {"keys": [dict(public, kid=provider.kid, use="sig", alg="RS256")]}
                else:
                    self.send_response(404)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def token(self, key=None, kid=None, **claims) -> str:
        now = int(time.time())
        body = {"iss": self.issuer, "aud": AUDIENCE, "iat": now, "exp": now + 600,
                "sub": "00u1abc", "email": "ana.lima@acme.example", **claims}
        body = {k: v for k, v in body.items() if v is not None}
        return jwt.encode(body, key or self.key, algorithm="RS256",
                          headers={"kid": kid or self.kid})


@pytest.fixture(scope="module")
def provider():
    running = Provider()
    yield running
    running.server.shutdown()


@pytest.fixture
def relais(tmp_path, clock, embedder, provider):
    relais = bootstrap(make_settings(tmp_path, oidc_issuer=provider.issuer,
                                     oidc_audience=AUDIENCE), clock=clock, embedder=embedder)
    relais.hr_sync.upsert([
        {"id": "e1001", "name": "Ana Lima", "email": "Ana.Lima@acme.example"},
        {"id": "e1002", "name": "Ben Okafor", "email": "ben.okafor@acme.example",
         "active": False}])
    return relais


def bearer(token: str) -> dict:
    return {"Authorization": f"Bearer {token}"}


def test_a_providers_token_names_the_colleague_with_its_email(relais, provider):
    caller = identify(bearer(provider.token()), None, relais.tokens, relais.sign_in)
    assert (caller.id, caller.role) == ("e1001", "employee")


@pytest.mark.parametrize("groups,role", [(["relais-hr"], "hr"), (["staff", "relais-admin"], "admin"),
                                         ("relais-hr", "hr"), (["relais-hr", "relais-admin"], "admin"),
                                         ([], "employee"), (None, "employee")])
def test_groups_give_the_hr_and_admin_roles(relais, provider, groups, role):
    caller = identify(bearer(provider.token(groups=groups)), None, relais.tokens, relais.sign_in)
    assert caller.role == role


def test_relais_own_tokens_still_work_beside_the_providers(relais):
    token = relais.tokens.issue("e1001", "admin")
    assert identify(bearer(token), None, relais.tokens, relais.sign_in).role == "admin"


@pytest.mark.parametrize("change,message", [
    ({"aud": "another-app"}, "the token was issued for another application"),
    ({"iss": "https://evil.example"}, "the token was issued by another identity provider"),
    ({"exp": int(time.time()) - 3600}, "the token has expired"),
    ({"exp": None}, "the token is not valid"),
    ({"email": "nobody@acme.example"}, "nobody@acme.example is not a colleague in the directory"),
    ({"email": "ben.okafor@acme.example"},
     "ben.okafor@acme.example is not a colleague in the directory"),  # left the company
    ({"email": None}, "the token has no 'email' claim naming you"),
    ({"email_verified": False}, "the identity provider has not verified ana.lima@acme.example"),
])
def test_a_token_that_does_not_hold_is_refused_with_why(relais, provider, change, message):
    with pytest.raises(Unauthorized) as refused:
        identify(bearer(provider.token(**change)), None, relais.tokens, relais.sign_in)
    assert refused.value.message == message


def test_a_token_signed_by_another_key_is_refused(relais, provider):
    stranger = rsa_key()
    for token in (provider.token(key=stranger), provider.token(key=stranger, kid="key-2")):
        with pytest.raises(Unauthorized) as refused:
            identify(bearer(token), None, relais.tokens, relais.sign_in)
        assert refused.value.status == 401
    forged = jwt.encode({"iss": provider.issuer, "aud": AUDIENCE, "email": "ana.lima@acme.example",
                         "exp": int(time.time()) + 60}, "a-guessed-secret-of-32-bytes-or-more",
                        algorithm="HS256")
    with pytest.raises(Unauthorized):  # a shared-secret token is Relais's own, and fails there
        identify(bearer(forged), None, relais.tokens, relais.sign_in)
    with pytest.raises(Unauthorized):
        identify(bearer("not.a.token"), None, relais.tokens, relais.sign_in)


def test_an_issuer_ending_in_a_slash_is_compared_as_it_is(provider):
    """Some providers' `iss` ends in "/" (Auth0): the configured issuer is the token's."""
    slashed = provider.issuer + "/"
    verifier = OidcVerifier(slashed, AUDIENCE, lambda email: None, person_claim="sub")
    assert verifier.verify(provider.token(iss=slashed)).id == "00u1abc"
    with pytest.raises(Unauthorized, match="another identity provider"):
        verifier.verify(provider.token())  # the same without the slash is another issuer


def test_another_claim_can_be_the_person_id(provider):
    verifier = OidcVerifier(provider.issuer, AUDIENCE, lambda email: None,
                            person_claim="employee_id")
    assert verifier.verify(provider.token(employee_id="e1001")).id == "e1001"


def test_the_keys_are_read_once_and_kept(provider):
    verifier = OidcVerifier(provider.issuer, AUDIENCE, lambda email: None, person_claim="sub")
    before = provider.requests
    for _ in range(5):
        verifier.verify(provider.token())
    assert provider.requests - before == 2  # the discovery document, then the key set


def test_an_unreachable_provider_is_a_503_not_a_refusal():
    verifier = OidcVerifier("http://127.0.0.1:9", AUDIENCE, lambda email: None)
    with pytest.raises(ServiceUnavailable) as unavailable:
        verifier.verify(jwt.encode({"a": 1}, rsa_key(), algorithm="RS256"))
    assert unavailable.value.status == 503
    assert "identity provider" in unavailable.value.message


def test_the_api_answers_a_provider_signed_in_colleague(relais, provider):
    app_module.use(relais)
    with Client(app_module.app) as client:
        signed_in = client.http.get("/me", headers=bearer(provider.token()))
        other_app = client.http.get("/me", headers=bearer(provider.token(aud="other")))
    assert signed_in.status_code == 200 and json.loads(signed_in.body)["id"] == "e1001"
    assert other_app.status_code == 401
    assert json.loads(other_app.body)["error"]["message"] == \
        "the token was issued for another application"


@pytest.mark.parametrize("overrides,message", [
    ({"oidc_issuer": "https://login.example.com/t1"}, "RELAIS_OIDC_AUDIENCE must be set"),
    ({"oidc_issuer": "http://login.example.com", "oidc_audience": "a"},
     "RELAIS_OIDC_ISSUER must be an https:// address"),
    ({"oidc_audience": "a"}, "RELAIS_OIDC_ISSUER must be set"),
])
def test_incomplete_sign_in_settings_are_refused_at_start(overrides, message):
    with pytest.raises(SettingsError) as refused:
        Settings(**overrides)
    assert str(refused.value).startswith(message)
