"""The built-in authorization server's HTTP endpoints under ``/auth`` (``ehr.auth.server``): they
translate form posts into its functions and answer OAuth JSON (RFC 6749 §5.1/§5.2) or the login page.

- ``POST /auth/token``: client_credentials (Backend Services), authorization_code + PKCE, refresh_token
- ``GET|POST /auth/authorize``: the login form and the redirect with a code
- ``POST /auth/introspect``: RFC 7662, for registered confidential clients
- ``POST /auth/break-glass``: an emergency token, always recorded in the audit log

Spec: https://hl7.org/fhir/smart-app-launch/app-launch.html, https://hl7.org/fhir/smart-app-launch/backend-services.html
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from sqlalchemy import Connection
from starlette.concurrency import run_in_threadpool

from ehr.api import negotiation as neg
from ehr.api.bearer import expected_issuer, origin
from ehr.audit.boundary import AuditRecord, Touched
from ehr.auth.server import authorize, break_glass, grants, introspect
from ehr.auth.server.errors import OAuthError
from ehr.auth.server.issuer import Grant, Issuer, revoke_family
from ehr.auth.server.page import error_page, login_page
from ehr.auth.server.registry import connection
from ehr.auth.signing import SigningKeys
from ehr.errors import NotFound
from ehr.fhir.interactions.context import Services


def built_in_only(request: Request) -> None:
    """With an external identity provider configured (``auth_jwks_url``), the built-in server is off:
    tokens it signed would not validate here, so its endpoints answer 404 and name the provider."""
    settings = request.app.state.settings
    if settings.auth_jwks_url:
        provider = settings.auth_issuer or "named in EHR_AUTH_ISSUER"
        raise NotFound(f"This service uses the identity provider {provider}; get tokens there "
                       "(see /.well-known/smart-configuration).")


router = APIRouter(prefix="/auth", dependencies=[Depends(built_in_only)])
T = TypeVar("T")
_FORM = "application/x-www-form-urlencoded"
_MAX_FORM = 64 * 1024
_NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


def issuer_for(request: Request) -> Issuer:
    """This server as an issuer: ``<origin>/auth`` for the FHIR base URL, unless configured (the same
    issuer and audience the resource server expects, ``ehr.api.bearer``)."""
    settings = request.app.state.settings
    keys = getattr(request.app.state, "signing_keys", None)
    if keys is None:
        keys = request.app.state.signing_keys = SigningKeys.load_or_create(settings.keys_dir)
    return Issuer(keys, expected_issuer(request, settings), settings.auth_audience or neg.fhir_base(request),
                  settings.access_token_lifetime_s)


def token_url(request: Request) -> str:
    """The token endpoint's URL: the ``aud`` client assertions must name."""
    return f"{origin(request)}/auth/token"


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != _FORM:
        raise OAuthError("invalid_request", f"Send the parameters as {_FORM}.")
    body = await request.body()
    if len(body) > _MAX_FORM:
        raise OAuthError("invalid_request", "The request body is too large.")
    return dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))


async def _in_store(request: Request, fn: Callable[[Connection], T]) -> T:
    """Run ``fn`` in one write unit of work of the store; a reused one-time credential revokes its
    family in a unit of work of its own (the first rolls back with the error)."""
    services: Services = request.app.state.services

    def run() -> T:
        try:
            with services.store.unit_of_work(write=True) as tx:
                return fn(connection(tx))
        except grants.FamilyReuse as exc:
            with services.store.unit_of_work(write=True) as tx:
                revoke_family(connection(tx), exc.family)
            raise

    return await run_in_threadpool(run)


def _oauth_error(exc: OAuthError) -> JSONResponse:
    return JSONResponse(exc.body(), status_code=exc.status, headers=_NO_STORE)


@router.post("/token", include_in_schema=False)
async def token(request: Request) -> Response:
    return await _form_endpoint(request, grants.token)


@router.post("/introspect", include_in_schema=False)
async def introspect_route(request: Request) -> Response:
    return await _form_endpoint(request, introspect.introspect)


async def _form_endpoint(request: Request, fn: Callable[[Connection, Issuer, dict[str, str], str], Any]) -> Response:
    """A form-posted OAuth endpoint (token, introspection): ``fn`` of the form in one unit of work,
    answered as JSON that is never cached, or as an RFC 6749 error."""
    try:
        form = await _form(request)
        issuer, url = issuer_for(request), token_url(request)
        body = await _in_store(request, lambda conn: fn(conn, issuer, form, url))
    except OAuthError as exc:
        return _oauth_error(exc)
    return JSONResponse(body, headers=_NO_STORE)


@router.get("/authorize", include_in_schema=False)
async def authorize_form(request: Request) -> Response:
    return await _authorize(request, dict(request.query_params), None)


@router.post("/authorize", include_in_schema=False)
async def authorize_login(request: Request) -> Response:
    try:
        form = await _form(request)
    except OAuthError as exc:
        return HTMLResponse(error_page(exc.description), status_code=400)
    return await _authorize(request, form, form)


async def _authorize(request: Request, params: dict[str, str], login: dict[str, str] | None) -> Response:
    """Show the form (``login`` None) or log in and redirect with a code."""
    services: Services = request.app.state.services
    audience = issuer_for(request).audience

    def step(conn: Connection) -> tuple[str | None, authorize.AuthorizeRequest | str]:
        """(a message for the form, the checked request), or (None, the redirect with a code)."""
        checked = authorize.check_request(conn, params, audience)
        if login is None:
            return None, checked
        try:
            return None, authorize.approve(conn, checked, login, lambda t, p: _patient_exists(services, t, p))
        except authorize.LoginFailed as failed:
            return str(failed), checked
        except OAuthError as exc:
            raise authorize.Redirect(checked, exc) from None

    try:
        message, value = await _in_store(request, step)
    except authorize.Redirect as exc:
        return RedirectResponse(exc.location, status_code=303, headers=_NO_STORE)
    except OAuthError as exc:  # NoRedirect: the client, its redirect URI or the state cannot be trusted
        return HTMLResponse(error_page(exc.description), status_code=400)
    if isinstance(value, str):
        return RedirectResponse(value, status_code=303, headers=_NO_STORE)
    return HTMLResponse(login_page(value, params, message), status_code=200 if message is None else 401,
                        headers=_NO_STORE)


def _patient_exists(services: Services, tenant: str, patient: str) -> bool:
    with services.store.unit_of_work(write=False) as tx:
        record = tx.current("Patient", patient)
    return record is not None and not record.deleted and record.tenant == tenant


@router.post("/break-glass", include_in_schema=False)
async def break_glass_route(request: Request) -> Response:
    scheme, _, bearer = request.headers.get("authorization", "").partition(" ")
    try:
        if scheme.lower() != "bearer" or not bearer:
            raise OAuthError("invalid_token", "Send your access token as Authorization: Bearer.", 401)
        form = await _form(request)
        issuer, lifetime = issuer_for(request), request.app.state.settings.break_glass_lifetime_s
        body, grant = await _in_store(request, lambda conn: break_glass.break_glass(conn, issuer, bearer.strip(),
                                                                                    form, lifetime))
    except OAuthError as exc:
        response = _oauth_error(exc)
        if exc.status == 401:
            response.headers["WWW-Authenticate"] = f'Bearer error="{exc.error}"'
        return response
    await _audit_break_glass(request, grant, body["break_glass"]["reason"])
    return JSONResponse(body, headers=_NO_STORE)


async def _audit_break_glass(request: Request, grant: Grant, reason: str) -> None:
    """Record the grant: who, which hospital, the reason code and the patient (references only)."""
    services: Services = request.app.state.services
    patient = grant.patient
    touched = (Touched(f"Patient/{patient}", (f"Patient/{patient}",)),) if patient else ()
    record = AuditRecord(interaction="operation:break-glass", tenant=grant.tenant, subject=grant.subject,
                         status=200, resource_type="Patient" if patient else None, id=patient, touched=touched,
                         roles=grant.roles or (), purpose_of_use=reason,
                         break_glass=True, client=request.client.host if request.client else None)
    receipt = await run_in_threadpool(services.auditor.record, record, None)
    await receipt.settled()
