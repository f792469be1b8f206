"""Token introspection (RFC 7662) and the narrow check of this server's own access tokens that
introspection and break-glass share: signature with the service's keys (ES384 only), ``iss``, ``aud``,
``exp``, and the ``jti`` recorded and not revoked.

Who may introspect: a registered confidential client, authenticated with its client assertion, and only
tokens of its own hospital; any other token answers ``{"active": false}``.
"""

from __future__ import annotations

import time
from typing import Any

from joserfc import jwt
from joserfc.errors import JoseError
from sqlalchemy import Connection, select

from ehr.auth.server.assertions import authenticate_client
from ehr.auth.server.issuer import Issuer
from ehr.auth.server.registry import find_client
from ehr.auth.server.tables import auth_tokens
from ehr.auth.signing import ALGORITHM

INACTIVE: dict[str, Any] = {"active": False}
_REPORTED = ("scope", "client_id", "sub", "exp", "iat", "iss", "aud", "tenant", "patient", "encounter",
             "fhirUser", "roles", "break_glass", "purpose_of_use")


def verify_own_token(conn: Connection, issuer: Issuer, token: str) -> dict[str, Any] | None:
    """The claims of a valid, unexpired, unrevoked access token this server issued; else None."""
    registry = jwt.JWTClaimsRegistry(now=int(time.time()), iss={"essential": True, "value": issuer.issuer},
                                     aud={"essential": True, "value": issuer.audience},
                                     exp={"essential": True}, jti={"essential": True})
    try:
        decoded = jwt.decode(token, issuer.keys.keys, algorithms=[ALGORITHM])
        registry.validate(decoded.claims)
    except (JoseError, ValueError):
        return None
    row = conn.execute(select(auth_tokens).where(auth_tokens.c.jti == str(decoded.claims["jti"]))).first()
    if row is None or row.revoked:
        return None
    client = find_client(conn, row.client_id)
    if client is None or client.disabled:
        return None
    return dict(decoded.claims)


def introspect(conn: Connection, issuer: Issuer, form: dict[str, str], token_url: str) -> dict[str, Any]:
    """RFC 7662 §2.2: what the token says when active, else ``{"active": false}``."""
    caller = authenticate_client(conn, form, token_url)
    claims = verify_own_token(conn, issuer, form.get("token", ""))
    if claims is None or claims.get("tenant") != caller.tenant:
        return INACTIVE
    return {"active": True, "token_type": "Bearer", **{k: claims[k] for k in _REPORTED if k in claims}}
