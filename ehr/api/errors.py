"""The one handler that turns every error into an OperationOutcome with the right status.

Nothing reaches a client as a stack trace; an unexpected exception becomes a 500 OperationOutcome
whose log line carries only the exception type and the request's method and route (never PHI).

Every refused request is in the audit log: interactions record their own failures (the runner), the
token check its 401s (``ehr.api.bearer``); a request refused before either — malformed headers, an
unknown type or endpoint, 405/406/413/415 — is recorded here, with the caller when known, the method
and the resource type of the path (never the body, the query values or the token).
"""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException

from ehr.api.request_audit import audit_refusal
from ehr.audit.receipts import attach, attached
from ehr.errors import FhirError, Issue, operation_outcome
from ehr.fhir.jsonio import dumps

log = logging.getLogger("ehr.api")
_MEDIA = "application/fhir+json; charset=utf-8"


def install(app: FastAPI) -> None:
    app.add_exception_handler(FhirError, _fhir_error)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, _http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _request_error)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, _unexpected)


async def _fhir_error(request: Request, exc: FhirError) -> Response:
    if getattr(exc, "audit_receipt", None) is None:  # refused before the runner or the token check
        attach(exc, audit_refusal(request, exc.status))
    try:
        await attached(exc).settled()  # a failure's audit entry is durable before its answer leaves
    except Exception as failed:
        return await _unexpected(request, failed)
    headers = exc.headers
    if exc.status == 401 and "WWW-Authenticate" not in headers:
        headers = {**headers, "WWW-Authenticate": 'Bearer realm="ehr"'}  # RFC 6750 §3: every 401 challenges
    return Response(dumps(exc.outcome()), status_code=exc.status, headers=headers, media_type=_MEDIA)


async def _http_error(request: Request, exc: HTTPException) -> Response:
    try:
        await audit_refusal(request, exc.status_code).settled()
    except Exception as failed:
        return await _unexpected(request, failed)
    messages = {
        404: f"No FHIR endpoint at {request.url.path}; see GET /fhir/metadata for what is served.",
        405: f"{request.method} is not allowed on {request.url.path}; see GET /fhir/metadata.",
    }
    code = {404: "not-found", 405: "not-supported"}.get(exc.status_code, "exception")
    text = messages.get(exc.status_code, str(exc.detail))
    return Response(dumps(operation_outcome([Issue(text, code=code)])), status_code=exc.status_code,
                    headers=dict(exc.headers or {}), media_type=_MEDIA)


async def _request_error(request: Request, exc: RequestValidationError) -> Response:
    try:
        await audit_refusal(request, 400).settled()
    except Exception as failed:
        return await _unexpected(request, failed)
    text = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
    return Response(dumps(operation_outcome([Issue(f"Bad request: {text}")])), status_code=400,
                    media_type=_MEDIA)


async def _unexpected(request: Request, exc: Exception) -> Response:
    try:
        await attached(exc).settled()
    except Exception as failed:
        log.error("audit entry of a failed request not written: %s", type(failed).__name__)
    log.error("unexpected %s on %s %s", type(exc).__name__, request.method, request.scope.get("route"))
    issue = Issue("The server failed unexpectedly; nothing was changed. Retry, and report it if it persists.",
                  code="exception", severity="fatal")
    return Response(dumps(operation_outcome([issue])), status_code=500, media_type=_MEDIA)
