"""The authorization endpoint (``/auth/authorize``, RFC 6749 §4.1.1 with PKCE, RFC 7636):
https://hl7.org/fhir/smart-app-launch/app-launch.html#obtain-authorization-code

``GET`` checks the request and shows a login form; ``POST`` (the form) checks the password and
redirects to ``redirect_uri?code=...&state=...``. Errors about the client or its redirect URI are shown
on the page (never redirected, RFC 6749 §4.1.2.1); the others are redirected with ``error=``.

Launch context: an EHR launch passes ``launch`` (an id from ``ehr launch``) and its patient and encounter
come from it. A standalone launch that requests ``launch/patient`` (or ``patient/`` scopes) names the
patient in the form's "patient id" field; the server checks that the patient exists in the user's
hospital. Users are granted ``patient/`` and ``user/`` scopes (never ``system/``) within the client's
allowed scopes, and only for a client of their own hospital.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from sqlalchemy import Connection

from ehr.auth.server import scope_grant
from ehr.auth.server.errors import OAuthError
from ehr.auth.server.hashing import digest
from ehr.auth.server.launches import resolve_launch
from ehr.auth.server.registry import Client, User, authenticate, find_client
from ehr.auth.server.tables import auth_codes

CODE_LIFETIME_S = 60
USER_LEVELS = frozenset({"patient", "user"})
PARAMS = ("response_type", "client_id", "redirect_uri", "scope", "state", "aud", "code_challenge",
          "code_challenge_method", "launch")

PatientCheck = Callable[[str, str], bool]


class NoRedirect(OAuthError):
    """An error shown on the page: the client or its redirect URI cannot be trusted with a redirect."""


class Redirect(OAuthError):
    """An error sent back to the app: ``location`` is its redirect URI with ``error`` and ``state``."""

    def __init__(self, request: AuthorizeRequest, error: OAuthError) -> None:
        super().__init__(error.error, error.description, error.status)
        self.location = request.redirect(error=error.error, error_description=error.description)


class LoginFailed(Exception):
    """Wrong username or password, or a missing patient: the form is shown again with the message."""


@dataclass(frozen=True, slots=True)
class AuthorizeRequest:
    client: Client
    redirect_uri: str
    scope: str
    state: str
    code_challenge: str
    launch: str | None

    def needs_patient(self) -> bool:
        """A standalone launch that needs the user to name the patient."""
        wanted = self.scope.split()
        return self.launch is None and ("launch/patient" in wanted or scope_grant.has_resource_level(wanted, "patient"))

    def redirect(self, **params: str) -> str:
        separator = "&" if "?" in self.redirect_uri else "?"
        return f"{self.redirect_uri}{separator}{urlencode({**params, 'state': self.state})}"


def check_request(conn: Connection, params: Mapping[str, str], audience: str) -> AuthorizeRequest:
    """The request, checked; :class:`NoRedirect` for a bad client, redirect URI or state, else
    :class:`Redirect` to send the error back to the app."""
    client = find_client(conn, params.get("client_id", ""))
    if client is None or client.disabled:
        raise NoRedirect("invalid_request", "Unknown or disabled client_id; ask the administrator to register "
                                            "the app (`ehr clients register`).")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise NoRedirect("invalid_request", "redirect_uri is not one registered for this client (exact match).")
    if not params.get("state"):
        raise NoRedirect("invalid_request", "state is required (SMART App Launch); send a random value.")
    request = AuthorizeRequest(client, redirect_uri, params.get("scope", ""), params["state"],
                               params.get("code_challenge", ""), params.get("launch") or None)
    if params.get("response_type") != "code":
        raise Redirect(request, OAuthError("unsupported_response_type", "Use response_type=code."))
    if params.get("aud", "").rstrip("/") != audience.rstrip("/"):
        raise Redirect(request, OAuthError("invalid_request", f"aud must be this FHIR server's base URL: {audience}."))
    if params.get("code_challenge_method") != "S256" or not request.code_challenge:
        raise Redirect(request, OAuthError("invalid_request", "PKCE is required: send code_challenge with "
                                                              "code_challenge_method=S256."))
    return request


def approve(conn: Connection, request: AuthorizeRequest, form: Mapping[str, str],
            patient_exists: PatientCheck) -> str:
    """Log the user in and return the redirect with a new code; :class:`LoginFailed` to show the form
    again, :class:`OAuthError` to redirect with."""
    user = authenticate(conn, form.get("username", ""), form.get("password", ""))
    if user is None:
        raise LoginFailed("Wrong username or password; try again.")
    if user.tenant != request.client.tenant:
        raise OAuthError("access_denied", "This app is registered for another hospital than the user's.")
    scopes = scope_grant.grant(request.scope, request.client.scopes, USER_LEVELS)
    if not scope_grant.has_resource_level(scopes, "patient") and not scope_grant.has_resource_level(scopes, "user"):
        raise OAuthError("invalid_scope", "None of the requested resource scopes is allowed to this app; request "
                                          f"patient/ or user/ scopes within: {' '.join(request.client.scopes)}.")
    patient, encounter = _context(conn, request, user, form, patient_exists)
    code = secrets.token_urlsafe(32)
    conn.execute(auth_codes.insert().values(
        code_hash=digest(code), client_id=request.client.client_id, redirect_uri=request.redirect_uri,
        code_challenge=request.code_challenge, scope=" ".join(scopes), username=user.username,
        tenant=user.tenant, patient=patient, encounter=encounter,
        expires_at=int(time.time()) + CODE_LIFETIME_S, family=None))
    return request.redirect(code=code)


def _context(conn: Connection, request: AuthorizeRequest, user: User, form: Mapping[str, str],
             patient_exists: PatientCheck) -> tuple[str | None, str | None]:
    """The patient and encounter in context: from the EHR launch id, or the patient the user named."""
    if request.launch is not None:
        launch = resolve_launch(conn, request.launch, request.client.client_id, user.tenant)
        return launch.patient, launch.encounter
    if not request.needs_patient():
        return None, None
    patient = form.get("patient", "").strip().removeprefix("Patient/")
    if not patient:
        raise LoginFailed("This app needs a patient in context: enter the patient's id.")
    if not patient_exists(user.tenant, patient):
        raise LoginFailed("No such patient at your hospital; check the patient id.")
    return patient, None
