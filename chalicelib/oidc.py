"""Sign-in with the company's identity provider on the embedded profile: the ID tokens its
OpenID Connect provider issues (Microsoft Entra ID, Okta, Google, Keycloak...) are verified here
against the provider's published keys, and name a colleague of the directory. On AWS, the
API Gateway authorizer does this job (Cognito, federated with the same provider)."""
from __future__ import annotations

import json
import threading
import urllib.error
import urllib.request
from typing import Callable

import jwt

from .auth import Caller
from .domain import Profile
from .errors import ServiceUnavailable, Unauthorized

# Asymmetric algorithms only: a provider's tokens are never signed with a shared secret.
ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512"]
LEEWAY_SECONDS = 60  # clocks of the provider and of this server differ a little
ROLE_GROUPS = {"relais-admin": "admin", "relais-hr": "hr"}  # the same groups as on AWS
FETCH_TIMEOUT_SECONDS = 10


class ProviderUnreachable(ServiceUnavailable):
    """The provider's keys could not be read: the token cannot be checked now."""


class OidcVerifier:
    """Checks a provider's token (signature by one of its published keys, issuer, audience,
    expiry) and finds the colleague it names: by `person_claim` — `email` (the default) is
    looked up in the directory, any other claim is read as the Relais person id. Groups named
    in `roles_claim` give the hr or admin role (relais-hr, relais-admin)."""

    def __init__(self, issuer: str, audience: str, find_by_email: Callable[[str], Profile | None],
                 *, person_claim: str = "email", roles_claim: str = "groups"):
        self.issuer = issuer  # compared with the tokens' `iss` as it is (some end in "/")
        self.audience = audience
        self.find_by_email = find_by_email
        self.person_claim = person_claim
        self.roles_claim = roles_claim
        self._keys: jwt.PyJWKClient | None = None
        self._lock = threading.Lock()

    def _key_client(self) -> jwt.PyJWKClient:
        """The provider's key set, located once through its discovery document."""
        with self._lock:
            if self._keys is None:
                url = self.issuer.rstrip("/") + "/.well-known/openid-configuration"
                try:
                    with urllib.request.urlopen(url, timeout=FETCH_TIMEOUT_SECONDS) as response:
                        jwks_uri = json.load(response)["jwks_uri"]
                except (OSError, ValueError, KeyError, TypeError) as error:
                    raise ProviderUnreachable(
                        f"the identity provider's configuration could not be read ({url}): "
                        f"{error}") from None
                self._keys = jwt.PyJWKClient(jwks_uri, cache_keys=True, lifespan=3600,
                                             timeout=FETCH_TIMEOUT_SECONDS)
            return self._keys

    def verify(self, token: str) -> Caller:
        try:
            key = self._key_client().get_signing_key_from_jwt(token)
        except jwt.PyJWKClientConnectionError as error:
            raise ProviderUnreachable(f"the identity provider's keys could not be read: {error}") \
                from None
        except jwt.PyJWKClientError:
            raise Unauthorized("the token is not signed by a key of the identity provider") \
                from None
        except jwt.PyJWTError:
            raise Unauthorized("the token is not valid") from None
        try:
            claims = jwt.decode(token, key.key, algorithms=ALGORITHMS, audience=self.audience,
                                issuer=self.issuer, leeway=LEEWAY_SECONDS,
                                options={"require": ["exp", "iss", "aud"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.InvalidAudienceError:
            raise Unauthorized("the token was issued for another application") from None
        except jwt.InvalidIssuerError:
            raise Unauthorized("the token was issued by another identity provider") from None
        except jwt.PyJWTError:
            raise Unauthorized("the token is not valid") from None
        return Caller(id=self._person(claims), role=self._role(claims))

    def _person(self, claims: dict) -> str:
        value = claims.get(self.person_claim)
        if not isinstance(value, str) or not value.strip():
            raise Unauthorized(f"the token has no {self.person_claim!r} claim naming you")
        if self.person_claim != "email":
            return value
        if claims.get("email_verified") is False:  # said by providers that let users type it
            raise Unauthorized(f"the identity provider has not verified {value}")
        person = self.find_by_email(value.strip())
        if person is None or not person.active:
            raise Unauthorized(f"{value} is not a colleague in the directory")
        return person.id

    def _role(self, claims: dict) -> str:
        groups = claims.get(self.roles_claim) or []
        groups = [groups] if isinstance(groups, str) else groups
        roles = {ROLE_GROUPS.get(g) for g in groups if isinstance(g, str)}
        return "admin" if "admin" in roles else "hr" if "hr" in roles else "employee"
