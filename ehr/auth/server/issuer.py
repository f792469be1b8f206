"""Minting access and refresh tokens, and revoking a grant's family.

Access tokens are JWTs signed with the service's ES384 key (``ehr.auth.signing``) holding exactly the
claims the resource server reads (``iss``, ``aud``, ``sub``, ``client_id``, ``scope``, ``tenant``,
``roles``, ``patient``, ``encounter``, ``fhirUser``); each ``jti`` is recorded for introspection.
Refresh tokens are opaque random strings stored as SHA-256 digests, rotated on every use
(https://www.rfc-editor.org/rfc/rfc6749#section-6, OAuth 2.0 Security BCP §4.14.2).
"""

from __future__ import annotations

import secrets
import time
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, update

from ehr.auth.server.hashing import digest, new_secret
from ehr.auth.server.tables import auth_refresh, auth_tokens
from ehr.auth.signing import SigningKeys

OFFLINE_LIFETIME_S = 30 * 24 * 3600
ONLINE_LIFETIME_S = 12 * 3600


@dataclass(frozen=True, slots=True)
class Issuer:
    """Signs tokens for one issuer (``<origin>/auth``) and audience (the FHIR base URL)."""

    keys: SigningKeys
    issuer: str
    audience: str
    lifetime_s: int


@dataclass(frozen=True, slots=True)
class Grant:
    """What a token says: who, through which client, of which hospital, with which scopes and context."""

    subject: str
    client_id: str
    tenant: str
    scopes: tuple[str, ...]
    roles: tuple[str, ...] | None = None
    patient: str | None = None
    encounter: str | None = None
    fhir_user: str | None = None

    def claims(self) -> dict[str, Any]:
        out: dict[str, Any] = {"sub": self.subject, "client_id": self.client_id, "tenant": self.tenant,
                               "scope": " ".join(self.scopes)}
        if self.roles is not None:
            out["roles"] = list(self.roles)
        for name, value in (("patient", self.patient), ("encounter", self.encounter), ("fhirUser", self.fhir_user)):
            if value is not None:
                out[name] = value
        return out


def issue_access(conn: Connection, issuer: Issuer, grant: Grant, *, family: str | None = None,
                 extra: dict[str, Any] | None = None, lifetime_s: int | None = None) -> tuple[str, int]:
    """A signed access token for ``grant`` and its lifetime in seconds; its jti is recorded."""
    lifetime = lifetime_s or issuer.lifetime_s
    jti = secrets.token_urlsafe(24)
    claims = {"iss": issuer.issuer, "aud": issuer.audience, "jti": jti, **grant.claims(), **(extra or {})}
    token = issuer.keys.mint(claims, lifetime_s=lifetime)
    conn.execute(auth_tokens.insert().values(jti=jti, client_id=grant.client_id, subject=grant.subject,
                                             tenant=grant.tenant, family=family,
                                             expires_at=int(time.time()) + lifetime, revoked=False))
    return token, lifetime


def issue_refresh(conn: Connection, grant: Grant, family: str) -> str:
    """A new refresh token of ``family``: long-lived with ``offline_access``, else 12 hours."""
    token = new_secret()
    lifetime = OFFLINE_LIFETIME_S if "offline_access" in grant.scopes else ONLINE_LIFETIME_S
    conn.execute(auth_refresh.insert().values(
        token_hash=digest(token), family=family, client_id=grant.client_id, username=grant.subject,
        tenant=grant.tenant, scope=" ".join(grant.scopes), patient=grant.patient, encounter=grant.encounter,
        expires_at=int(time.time()) + lifetime, rotated=False, revoked=False))
    return token


def wants_refresh(scopes: tuple[str, ...]) -> bool:
    return "offline_access" in scopes or "online_access" in scopes


def revoke_family(conn: Connection, family: str) -> None:
    """Revoke every refresh and access token descended from one grant (a code or refresh token reused)."""
    conn.execute(update(auth_refresh).where(auth_refresh.c.family == family).values(revoked=True))
    conn.execute(update(auth_tokens).where(auth_tokens.c.family == family).values(revoked=True))


def token_response(access: str, lifetime: int, grant: Grant, refresh: str | None) -> dict[str, Any]:
    """The token endpoint's JSON (RFC 6749 §5.1, SMART's ``patient``/``encounter`` launch context)."""
    body: dict[str, Any] = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime,
                            "scope": " ".join(grant.scopes)}
    if grant.patient is not None:
        body["patient"] = grant.patient
    if grant.encounter is not None:
        body["encounter"] = grant.encounter
    if refresh is not None:
        body["refresh_token"] = refresh
    return body
