"""Audit entries for requests that no interaction records itself (``ehr.fhir.interactions.runner``
records every FHIR interaction): requests refused before any interaction ran (the one error handler,
``ehr.api.errors``; the token check, ``ehr.api.bearer``) and the KServe v2 inference calls
(:class:`InferenceAudit`). The caller when known, the method or operation, the resource type of the
path, the model's name — never a body, a query value or a token.
"""

from __future__ import annotations

import re
from typing import Any

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ehr.audit.boundary import AuditRecord
from ehr.audit.receipts import DONE, Receipt

_METHODS = {"GET": "read", "HEAD": "read", "POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}
_TYPE = re.compile(r"^/fhir/([A-Z][A-Za-z]{1,63})(?:/|$)")
_INFER = re.compile(r"^/v2/models/([A-Za-z0-9._-]{1,128})(?:/versions/[A-Za-z0-9._-]{1,64})?/infer$")


def audit_refusal(request: Request, status: int) -> Receipt:
    """Record a request refused before any interaction ran."""
    found = _TYPE.match(request.url.path)
    return record_request(request, status, _METHODS.get(request.method, "operation"),
                          resource_type=found.group(1) if found else None)


def record_request(request: Request, status: int, interaction: str, *, resource_type: str | None = None,
                   parameters: tuple[str, ...] = ()) -> Receipt:
    """Record ``request`` with its outcome (nothing to record without a service)."""
    services = getattr(request.app.state, "services", None)
    if services is None:
        return DONE
    grant = request.scope.get("ehr.grant")
    principal = grant.principal if grant is not None else None
    record = AuditRecord(
        interaction=interaction,
        tenant=principal.tenant if principal is not None else request.app.state.settings.default_tenant,
        subject=principal.subject if principal is not None else "anonymous", status=status,
        resource_type=resource_type, roles=principal.roles if principal is not None else (),
        purpose_of_use=grant.purpose_of_use if grant is not None else None,
        break_glass=bool(grant.break_glass) if grant is not None else False,
        client=request.client.host if request.client else None, parameters=parameters)
    receipt: Receipt = services.auditor.record(record, None)
    return receipt


class InferenceAudit:
    """Records every KServe v2 ``infer`` call (``operation:infer``, the model's name as its parameter)
    once its status is known; the response starts only when the entry is durable, as for reads. A 401
    is left to the token check, which records it."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        found = _INFER.match(scope.get("path", "")) if scope["type"] == "http" else None
        if found is None:
            await self.app(scope, receive, send)
            return
        model = found.group(1)

        async def audited(message: Message) -> None:
            if message["type"] == "http.response.start" and message["status"] != 401:
                request: Any = Request(scope)
                await record_request(request, int(message["status"]), "operation:infer",
                                     parameters=(model,)).settled()
            await send(message)

        await self.app(scope, receive, audited)
