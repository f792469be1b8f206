"""Break-glass (emergency access): a user with a valid access token asks ``POST /auth/break-glass`` for
a short-lived token that declares an emergency reason. The new token carries the same claims plus
``break_glass: {"reason", "exp"}`` and ``purpose_of_use``; its lifetime is at most
``Settings.break_glass_lifetime_s``. The HTTP layer records every grant in the audit log, flagged.

Reasons are codes of HL7 v3 ActReason (http://terminology.hl7.org/CodeSystem/v3-ActReason): free text
never reaches a token or the audit log.
"""

from __future__ import annotations

import re
import time
from typing import Any

from sqlalchemy import Connection

from ehr.auth.server.errors import OAuthError
from ehr.auth.server.introspect import verify_own_token
from ehr.auth.server.issuer import Grant, Issuer, issue_access

#: emergency treatment, break the glass, emergency research treatment, emergency public health, patient safety
REASONS = frozenset({"ETREAT", "BTG", "ERTREAT", "PUBHLTH", "PATSFTY"})
_ID = re.compile(r"[A-Za-z0-9.-]{1,64}")


def break_glass(conn: Connection, issuer: Issuer, bearer: str, form: dict[str, str],
                lifetime_s: int) -> tuple[dict[str, Any], Grant]:
    """The token endpoint's answer with a break-glass token for the caller of ``bearer``, and its grant
    (for the audit record); :class:`OAuthError` when refused."""
    claims = verify_own_token(conn, issuer, bearer)
    if claims is None:
        raise OAuthError("invalid_token", "Send a valid access token of this server as Authorization: Bearer.",
                         401)
    if "roles" not in claims:
        raise OAuthError("access_denied", "Break-glass is for people, not backend clients; sign in as a user.", 403)
    reason = form.get("reason", "")
    if reason not in REASONS:
        raise OAuthError("invalid_request", f"reason must be one of {', '.join(sorted(REASONS))} (v3 ActReason).")
    patient = form.get("patient", "").removeprefix("Patient/") or claims.get("patient")
    if patient is not None and not _ID.fullmatch(str(patient)):
        raise OAuthError("invalid_request", "patient must be a Patient id.")
    expires = int(time.time()) + lifetime_s
    grant = Grant(str(claims["sub"]), str(claims["client_id"]), str(claims["tenant"]),
                  tuple(str(claims.get("scope", "")).split()), tuple(claims["roles"]),
                  str(patient) if patient else None, claims.get("encounter"), claims.get("fhirUser"))
    extra = {"break_glass": {"reason": reason, "exp": expires}, "purpose_of_use": reason}
    access, lifetime = issue_access(conn, issuer, grant, extra=extra, lifetime_s=lifetime_s)
    body = {"access_token": access, "token_type": "Bearer", "expires_in": lifetime, "scope": " ".join(grant.scopes),
            "break_glass": extra["break_glass"]}
    if grant.patient is not None:
        body["patient"] = grant.patient
    return body, grant
