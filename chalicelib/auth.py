"""Who is calling: bearer tokens on the embedded profile, an authorizer's claims on AWS.

`identify(request)` is the one function every route uses, so the aws profile plugs in its
OIDC/Cognito authorizer by reading the claims API Gateway already verified.
"""
from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from pathlib import Path

import jwt

from .config import Settings
from .domain import ROLES
from .errors import Unauthorized

ALGORITHM = "HS256"
HR_SYNC_SCOPE = "relais/hr-sync"  # the scope of the HR systems' client-credentials tokens
SECRET_FILE = "token-secret"  # in the data folder, when no secret is configured


@dataclass(frozen=True)
class Caller:
    """The authenticated person and the role their token grants."""

    id: str
    role: str = "employee"

    @property
    def is_hr(self) -> bool:
        return self.role in ("hr", "admin")

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def token_secret(settings: Settings) -> str:
    """The signing key: from settings, else one generated once and kept beside the database."""
    if settings.token_secret:
        return settings.token_secret
    path = Path(settings.data_dir) / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


class TokenIssuer:
    """Signs and verifies the embedded profile's bearer tokens (HMAC-SHA256 JWTs)."""

    def __init__(self, secret: str, ttl_hours: int = 24 * 30):
        self.secret = secret
        self.ttl_seconds = int(ttl_hours * 3600)

    def issue(self, person_id: str, role: str = "employee") -> str:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        now = int(time.time())
        claims = {"sub": person_id, "role": role, "iat": now, "exp": now + self.ttl_seconds}
        return jwt.encode(claims, self.secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> Caller:
        try:
            claims = jwt.decode(token, self.secret, algorithms=[ALGORITHM],
                                options={"require": ["sub", "exp"]})
        except jwt.ExpiredSignatureError:
            raise Unauthorized("the token has expired") from None
        except jwt.PyJWTError:
            raise Unauthorized("the token is not valid") from None
        role = claims.get("role", "employee")
        if role not in ROLES or not isinstance(claims["sub"], str) or not claims["sub"]:
            raise Unauthorized("the token is not valid")
        return Caller(id=claims["sub"], role=role)


def identify(headers: dict, context: dict | None, tokens: TokenIssuer | None,
             sign_in=None) -> Caller:
    """The caller of a request.

    With an authorizer in front (aws profile), API Gateway has verified the JWT and passes its
    claims in the request context; the role comes from the `custom:relais_role` claim or a
    `relais-hr` / `relais-admin` group. Otherwise the bearer token is verified here: Relais's
    own, or, when `sign_in` is set (oidc.OidcVerifier), one from the company's provider.
    """
    claims = ((context or {}).get("authorizer") or {}).get("claims")
    if claims and tokens is None:
        if HR_SYNC_SCOPE in str(claims.get("scope", "")).split():
            # An HR system's machine token (client credentials): it acts as HR, as itself.
            return Caller(id=str(claims.get("client_id") or claims["sub"]), role="hr")
        groups = str(claims.get("cognito:groups", ""))
        role = claims.get("custom:relais_role") or (
            "admin" if "relais-admin" in groups else "hr" if "relais-hr" in groups else "employee")
        return Caller(id=claims.get("custom:relais_id") or claims["sub"], role=role)
    header = next((v for k, v in (headers or {}).items() if k.lower() == "authorization"), "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("a bearer token is required (Authorization: Bearer <token>)")
    token = token.strip()
    if sign_in is not None and not _signed_by_relais(token):
        return sign_in.verify(token)
    if tokens is None:
        raise Unauthorized("no authorizer is configured")
    return tokens.verify(token)


def _signed_by_relais(token: str) -> bool:
    """Relais signs its own tokens with a shared secret (HS256); an identity provider never
    does. A token that cannot be read is left to Relais's check, which refuses it."""
    try:
        return jwt.get_unverified_header(token).get("alg") == ALGORITHM
    except jwt.PyJWTError:
        return True
