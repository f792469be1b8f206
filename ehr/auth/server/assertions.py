"""Client authentication with a signed JWT (``private_key_jwt``, RFC 7523 §2.2), as SMART Backend
Services and confidential asymmetric clients do:
https://hl7.org/fhir/smart-app-launch/client-confidential-asymmetric.html#authenticating-to-the-token-endpoint

The assertion must be signed with RS384 or ES384 by a key of the client's registered JWKS (inline, or
fetched from its ``jwks_uri``), with ``iss`` = ``sub`` = ``client_id``, ``aud`` = this token endpoint,
an ``exp`` at most five minutes ahead, and a ``jti`` never seen before (remembered until it expires).
"""

from __future__ import annotations

import base64
import time
from typing import Any

import httpx
import orjson
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from sqlalchemy import Connection, delete
from sqlalchemy.exc import IntegrityError

from ehr.auth.server.errors import OAuthError
from ehr.auth.server.registry import Client, find_client
from ehr.auth.server.tables import auth_assertion_jtis

ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
ALGORITHMS = ("RS384", "ES384")
MAX_LIFETIME_S = 300
LEEWAY_S = 30


def authenticate_client(conn: Connection, form: dict[str, str], token_url: str) -> Client:
    """The confidential client whose assertion in ``form`` is valid; else ``invalid_client``."""
    if form.get("client_assertion_type") != ASSERTION_TYPE or not form.get("client_assertion"):
        raise OAuthError("invalid_client", f"Authenticate with client_assertion_type={ASSERTION_TYPE} and a "
                                           "client_assertion JWT signed by your registered key.")
    assertion = form["client_assertion"]
    client_id = _unverified_issuer(assertion)
    client = find_client(conn, client_id)
    if client is None or client.disabled or client.kind != "confidential":
        raise OAuthError("invalid_client", "Unknown, disabled or public client; register a confidential "
                                           "client with `ehr clients register --jwks FILE`.")
    if form.get("client_id") not in (None, client_id):
        raise OAuthError("invalid_client", "client_id differs from the assertion's iss; send the same id.")
    claims = _verify(assertion, _client_keys(client), client_id, token_url)
    _remember_jti(conn, client_id, str(claims["jti"]), int(claims["exp"]))
    return client


def _unverified_issuer(assertion: str) -> str:
    """The ``iss`` of the assertion, read before its signature is checked to find the client's keys."""
    try:
        payload = assertion.split(".")[1]
        claims = orjson.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        issuer = claims["iss"]
    except (IndexError, ValueError, KeyError, TypeError, orjson.JSONDecodeError):
        issuer = None
    if not isinstance(issuer, str) or not issuer:
        raise OAuthError("invalid_client", "The client_assertion is not a JWT with an iss claim (your client_id).")
    return issuer


def _client_keys(client: Client) -> KeySet:
    try:
        jwks: Any = client.jwks
        if jwks is None and client.jwks_uri is not None:
            jwks = httpx.get(client.jwks_uri, timeout=5).raise_for_status().json()
        return KeySet.import_key_set(jwks)
    except (httpx.HTTPError, ValueError, JoseError, TypeError) as exc:
        raise OAuthError("invalid_client", "The client's registered JWKS could not be read; check its jwks_uri "
                                           "or register the key set again.") from exc


def _verify(assertion: str, keys: KeySet, client_id: str, token_url: str) -> dict[str, Any]:
    now = int(time.time())
    registry = jwt.JWTClaimsRegistry(
        now=now, leeway=LEEWAY_S, iss={"essential": True, "value": client_id},
        sub={"essential": True, "value": client_id}, aud={"essential": True, "value": token_url},
        exp={"essential": True}, jti={"essential": True})
    try:
        token = jwt.decode(assertion, keys, algorithms=list(ALGORITHMS))
        registry.validate(token.claims)
    except (JoseError, ValueError) as exc:
        raise OAuthError("invalid_client", f"The client_assertion was refused ({type(exc).__name__}): sign it "
                                           f"with RS384 or ES384, iss = sub = client_id, aud = {token_url}, "
                                           "a fresh jti and exp within 5 minutes.") from exc
    claims = dict(token.claims)
    if not isinstance(claims["exp"], int) or claims["exp"] > now + MAX_LIFETIME_S + LEEWAY_S:
        raise OAuthError("invalid_client", "The client_assertion's exp is more than 5 minutes ahead; shorten it.")
    return claims


def _remember_jti(conn: Connection, client_id: str, jti: str, exp: int) -> None:
    """Refuse a replayed assertion; forget ids whose assertions have expired."""
    conn.execute(delete(auth_assertion_jtis).where(auth_assertion_jtis.c.expires_at < int(time.time()) - LEEWAY_S))
    try:
        with conn.begin_nested():
            conn.execute(auth_assertion_jtis.insert().values(client_id=client_id, jti=jti[:255], expires_at=exp))
    except IntegrityError:
        raise OAuthError("invalid_client", "This client_assertion (its jti) was already used; sign a new one "
                                           "for every request.") from None
