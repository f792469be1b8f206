"""The audit pages for data officers under ``/audit``: the access report of a patient, the activity of a
user and the anomalies, as an HTML page with a picker, or as CSV and PDF downloads (``format=``).

Only principals with the role ``data-officer`` may look; everyone else gets 403 with an OperationOutcome.
Roles and hospital come from the caller's access token (``ehr.api.bearer``; the ``X-Roles`` and
``X-Tenant`` headers in ``--dev`` mode). An officer sees the entries of their hospital's users and on
their hospital's patients. The pages show references and user ids only, never names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import RedirectResponse

from ehr.api.bearer import authenticate
from ehr.audit.reports.build import MEDIA_TYPES, Format, ReportRequest, build_document, export, parse_bound
from ehr.audit.reports.html import Form
from ehr.audit.reports.model import Period
from ehr.audit.reports.rules import AnomalyRules
from ehr.auth.boundary import Principal
from ehr.errors import BadRequest, Forbidden

OFFICER_ROLE = "data-officer"
router = APIRouter(prefix="/audit", include_in_schema=False)
_SECURITY = {"Cache-Control": "no-store", "X-Content-Type-Options": "nosniff",
             "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; img-src data:;"
                                        " form-action 'self'; frame-ancestors 'none'"}


def require_officer(request: Request) -> Principal:
    """The caller (``ehr.api.bearer``: token, or development headers in ``--dev`` mode), if a data officer."""
    principal = authenticate(request).principal
    if OFFICER_ROLE not in principal.roles:
        raise Forbidden(f"The audit reports are for data officers only; ask your administrator for the "
                        f"'{OFFICER_ROLE}' role (the roles claim of your token; X-Roles in --dev mode).")
    return principal


Officer = Annotated[Principal, Depends(require_officer)]
Text = Annotated[str, Query(max_length=200)]
FormatParam = Annotated[Format, Query(alias="format")]


@router.get("/report")
def report(request: Request, officer: Officer, patient: Text = "", user: Text = "", since: Text = "",
           until: Text = "", fmt: FormatParam = Format.HTML) -> Response:
    """``?patient=Patient/ID`` or ``?user=AGENT``, with optional ``since``/``until`` days."""
    if not patient and not user:
        query = urlencode({k: v for k, v in (("since", since), ("until", until)) if v})
        return RedirectResponse(f"{_base(request)}/anomalies" + (f"?{query}" if query else ""), status_code=303)
    if patient and user:
        raise BadRequest("Give either a patient or a user, not both.")
    return _respond(request, officer, "report", {"patient": patient, "user": user, "since": since, "until": until},
                    fmt)


@router.get("/anomalies")
@router.get("")
def anomalies(request: Request, officer: Officer, since: Text = "", until: Text = "",
              fmt: FormatParam = Format.HTML) -> Response:
    return _respond(request, officer, "anomalies", {"since": since, "until": until}, fmt)


def _respond(request: Request, officer: Principal, view: str, params: dict[str, str], fmt: Format) -> Response:
    state = request.app.state
    rules = AnomalyRules.from_settings(state.settings)
    period = Period(parse_bound(params["since"], rules.zone, end=False) if params["since"] else None,
                    parse_bound(params["until"], rules.zone, end=True) if params["until"] else None)
    wanted = ReportRequest(period, patient=params.get("patient") or None, agent=params.get("user") or None,
                           anomalies=view == "anomalies", tenant=officer.tenant)
    doc = build_document(state.audit_reader, wanted, rules, state.care_links)
    base = _base(request)
    query = {k: v for k, v in params.items() if v}
    downloads = [(label, f"{base}/{view}?{urlencode({**query, 'format': label.lower()})}") for label in ("CSV", "PDF")]
    form = Form(base=base, patient=params.get("patient", ""), user=params.get("user", ""), since=params["since"],
                until=params["until"])
    body = export(doc, fmt, datetime.now(UTC), form=form, downloads=downloads)
    headers = dict(_SECURITY)
    if fmt is not Format.HTML:
        subject = (params.get("patient") or params.get("user") or "anomalies").replace("/", "-")
        headers["Content-Disposition"] = f'attachment; filename="audit-{_safe(subject)}.{fmt.value}"'
    return Response(body, media_type=MEDIA_TYPES[fmt], headers=headers)


def _base(request: Request) -> str:
    return f"{request.scope.get('root_path', '')}/audit"


def _safe(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in name)[:80]
