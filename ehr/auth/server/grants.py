"""The token endpoint's three grants (``POST /auth/token``, RFC 6749 §4.1.3, §4.4, §6):

- ``client_credentials`` with a client assertion: SMART Backend Services
  (https://hl7.org/fhir/smart-app-launch/backend-services.html), ``system/`` scopes only;
- ``authorization_code`` with PKCE S256 (RFC 7636), required of every client; confidential clients
  authenticate with their assertion too;
- ``refresh_token``, rotated on every use; the scope may narrow, never widen.
"""

from __future__ import annotations

import secrets
import time
from typing import Any

from sqlalchemy import Connection, select, update

from ehr.auth.server import scope_grant
from ehr.auth.server.assertions import authenticate_client
from ehr.auth.server.errors import OAuthError
from ehr.auth.server.hashing import digest, pkce_matches
from ehr.auth.server.issuer import Grant, Issuer, issue_access, issue_refresh, token_response, wants_refresh
from ehr.auth.server.registry import Client, find_client, find_user
from ehr.auth.server.tables import auth_codes, auth_refresh

SYSTEM = frozenset({"system"})


def token(conn: Connection, issuer: Issuer, form: dict[str, str], token_url: str) -> dict[str, Any]:
    """Answer one token request, or raise :class:`OAuthError`."""
    grant_type = form.get("grant_type")
    if grant_type == "client_credentials":
        return client_credentials(conn, issuer, form, token_url)
    if grant_type == "authorization_code":
        return authorization_code(conn, issuer, form, token_url)
    if grant_type == "refresh_token":
        return refresh(conn, issuer, form, token_url)
    raise OAuthError("unsupported_grant_type", "Use grant_type client_credentials, authorization_code or "
                                               "refresh_token.")


def client_credentials(conn: Connection, issuer: Issuer, form: dict[str, str], token_url: str) -> dict[str, Any]:
    client = authenticate_client(conn, form, token_url)
    scopes = scope_grant.grant(form.get("scope", ""), client.scopes, SYSTEM)
    if not scopes:
        raise OAuthError("invalid_scope", "None of the requested scopes is allowed to this client; request "
                                          f"system/ scopes within: {' '.join(client.scopes)}.")
    grant = Grant(client.client_id, client.client_id, client.tenant, tuple(scopes))
    access, lifetime = issue_access(conn, issuer, grant)
    return token_response(access, lifetime, grant, None)


def _client_of(conn: Connection, form: dict[str, str], token_url: str) -> Client:
    """The client of a code or refresh request: confidential ones prove it with an assertion."""
    if form.get("client_assertion"):
        return authenticate_client(conn, form, token_url)
    client = find_client(conn, form.get("client_id", ""))
    if client is None or client.disabled:
        raise OAuthError("invalid_client", "Unknown or disabled client_id; send the id you were registered with.")
    if client.kind != "public":
        raise OAuthError("invalid_client", "This confidential client must authenticate with a client_assertion.")
    return client


def authorization_code(conn: Connection, issuer: Issuer, form: dict[str, str], token_url: str) -> dict[str, Any]:
    client = _client_of(conn, form, token_url)
    row = conn.execute(select(auth_codes).where(auth_codes.c.code_hash == digest(form.get("code", "")))).first()
    again = "Start the authorization again at /auth/authorize."
    if row is None or row.client_id != client.client_id:
        raise OAuthError("invalid_grant", f"Unknown authorization code. {again}")
    if row.family is not None:
        raise FamilyReuse("invalid_grant", f"This authorization code was already used; the tokens issued for it "
                                           f"are revoked. {again}", family=row.family)
    if row.expires_at < time.time():
        raise OAuthError("invalid_grant", f"The authorization code expired (codes live 60 seconds). {again}")
    if form.get("redirect_uri") != row.redirect_uri:
        raise OAuthError("invalid_grant", "redirect_uri differs from the one sent to /auth/authorize.")
    if not pkce_matches(form.get("code_verifier", ""), row.code_challenge):
        raise OAuthError("invalid_grant", "code_verifier does not match the code_challenge (PKCE S256).")
    family = secrets.token_urlsafe(16)
    conn.execute(update(auth_codes).where(auth_codes.c.code_hash == row.code_hash).values(family=family))
    return _user_tokens(conn, issuer, client, row.username, tuple(row.scope.split()), row.patient,
                        row.encounter, family)


def _user_tokens(conn: Connection, issuer: Issuer, client: Client, username: str, scopes: tuple[str, ...],
                 patient: str | None, encounter: str | None, family: str,
                 refresh_scopes: tuple[str, ...] | None = None) -> dict[str, Any]:
    user = find_user(conn, username)
    if user is None or user.disabled:
        raise OAuthError("invalid_grant", "The user is disabled; ask your administrator.")
    grant = Grant(user.username, client.client_id, user.tenant, scopes, user.roles, patient, encounter,
                  user.fhir_user)
    access, lifetime = issue_access(conn, issuer, grant, family=family)
    kept = Grant(user.username, client.client_id, user.tenant, refresh_scopes or scopes, user.roles, patient,
                 encounter, user.fhir_user)
    refresh_token = issue_refresh(conn, kept, family) if wants_refresh(kept.scopes) else None
    return token_response(access, lifetime, grant, refresh_token)


def refresh(conn: Connection, issuer: Issuer, form: dict[str, str], token_url: str) -> dict[str, Any]:
    client = _client_of(conn, form, token_url)
    row = conn.execute(select(auth_refresh)
                       .where(auth_refresh.c.token_hash == digest(form.get("refresh_token", "")))).first()
    again = "Authorize again at /auth/authorize."
    if row is None or row.client_id != client.client_id or row.revoked:
        raise OAuthError("invalid_grant", f"Unknown or revoked refresh token. {again}")
    if row.rotated:
        raise FamilyReuse("invalid_grant", f"This refresh token was already used; every token of its grant is "
                                           f"now revoked. {again}", family=row.family)
    if row.expires_at < time.time():
        raise OAuthError("invalid_grant", f"The refresh token expired. {again}")
    original = tuple(row.scope.split())
    scopes = tuple(form["scope"].split()) if form.get("scope") else original
    if not set(scopes) <= set(original):
        raise OAuthError("invalid_scope", "A refresh may narrow the scope, never widen it; request a subset of: "
                                          f"{row.scope}.")
    conn.execute(update(auth_refresh).where(auth_refresh.c.token_hash == row.token_hash).values(rotated=True))
    return _user_tokens(conn, issuer, client, row.username, scopes, row.patient, row.encounter, row.family,
                        refresh_scopes=original)


class FamilyReuse(OAuthError):
    """A one-time credential presented twice: the caller revokes ``family`` in its own unit of work
    (this one rolls back with the error)."""

    def __init__(self, error: str, description: str, *, family: str) -> None:
        super().__init__(error, description)
        self.family = family
