"""The AuditEvent routes under ``/fhir``: search and read of the audit log for data officers, and a
405 for every write (the log is append-only). Mounted before the generic FHIR routes, so these take
``AuditEvent`` first. Each passes the interaction runner, so each is itself audited.

Spec: https://hl7.org/fhir/R4/auditevent.html
"""

from __future__ import annotations

from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response

from ehr.api import negotiation as neg
from ehr.api.fhir_routes import PREFIX, call
from ehr.audit.search import read_audit_event, search_audit
from ehr.fhir.interactions.context import Result
from ehr.fhir.interactions.writes import check_writable
from ehr.store.protocol import Tx

router = APIRouter()


async def search_route(request: Request) -> Response:
    c = call(request, resource_type="AuditEvent")
    params = list(request.query_params.multi_items())
    if request.method == "POST":
        raw = await neg.read_body(request, request.app.state.settings.max_body_bytes,
                                  frozenset({"application/x-www-form-urlencoded"}))
        params += parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return await c.run("search-type", lambda _tx: search_audit(c.ctx, c.services.audit_log, params), write=False)


async def read_route(request: Request) -> Response:
    c = call(request, resource_type="AuditEvent")
    return await c.run("read", lambda _tx: read_audit_event(c.ctx, c.services.audit_log, c.resource_id),
                       write=False)


async def refuse_write(request: Request) -> Response:
    c = call(request, resource_type="AuditEvent")
    interaction = {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}[request.method]
    return await c.run(interaction, _refuse, write=False)


def _refuse(_tx: Tx) -> Result:
    check_writable("AuditEvent")
    raise AssertionError("AuditEvent is never writable")


router.add_route(PREFIX + "/AuditEvent", search_route, methods=["GET"], include_in_schema=False)
router.add_route(PREFIX + "/AuditEvent/_search", search_route, methods=["POST"], include_in_schema=False)
router.add_route(PREFIX + "/AuditEvent/{resource_id:fhirid}", read_route, methods=["GET"], include_in_schema=False)
router.add_route(PREFIX + "/AuditEvent", refuse_write, methods=["POST", "PUT", "PATCH", "DELETE"],
                 include_in_schema=False)
router.add_route(PREFIX + "/AuditEvent/{resource_id:fhirid}", refuse_write, methods=["PUT", "PATCH", "DELETE"],
                 include_in_schema=False)
