"""One Bundle entry as an interaction, and the entry's response
(https://hl7.org/fhir/R4/bundle.html#Bundle.entry.response)."""

from __future__ import annotations

from typing import Any

import orjson

from ehr.auth.boundary import Action
from ehr.errors import BadRequest, FhirError
from ehr.fhir.bundles import resource_fragment
from ehr.fhir.interactions import create, delete, history, patch, read, search, update
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.entries import Entry
from ehr.fhir.interactions.writes import check_writable, parse_etag
from ehr.store.protocol import Tx
from ehr.store.records import to_instant

_REASONS = {200: "OK", 201: "Created", 204: "No Content", 304: "Not Modified"}


def authorize(ctx: Context, services: Services, entry: Entry) -> None:
    """Ask the authorizer about the entry as the interaction it is (a Bundle is checked entry by entry:
    https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html)."""
    services.authorizer.check(ctx.principal, Action(_interaction(entry), entry.resource_type or None,
                                                    entry.parts[1] if len(entry.parts) > 1 else None))


def _interaction(entry: Entry) -> str:
    parts = entry.parts
    if entry.method in ("GET", "HEAD"):
        if len(parts) == 1:
            return "search-type"
        if len(parts) == 3:
            return "history-instance"
        return "vread" if len(parts) == 4 else "read"
    return {"POST": "create", "PUT": "update", "PATCH": "patch", "DELETE": "delete"}.get(entry.method, "unknown")


def run_authorized(ctx: Context, services: Services, tx: Tx, entry: Entry) -> Result:
    """A batch entry: authorized, then run (inside the runner, so a denial is audited)."""
    authorize(ctx, services, entry)
    return run_entry(ctx, services, tx, entry)


def run_entry(ctx: Context, services: Services, tx: Tx, entry: Entry) -> Result:
    """Run one entry; the caller authorized it first (:func:`authorize`)."""
    parts, if_match = entry.parts, parse_etag(entry.if_match)
    if entry.method in ("GET", "HEAD"):
        return _run_read(ctx, services, tx, entry)
    check_writable(entry.resource_type)
    if entry.method == "POST" and len(parts) == 1:
        assert entry.resource is not None
        return create.create(ctx, services, tx, parts[0], entry.resource, if_none_exist=entry.if_none_exist)
    if entry.method == "PUT" and len(parts) == 2:
        assert entry.resource is not None
        return update.update(ctx, services, tx, parts[0], parts[1], entry.resource, if_match=if_match)
    if entry.method == "PUT" and len(parts) == 1 and entry.query:
        assert entry.resource is not None
        return update.conditional_update(ctx, services, tx, parts[0], entry.query, entry.resource,
                                         if_match=if_match)
    if entry.method == "PATCH":
        return _run_patch(ctx, services, tx, entry, if_match)
    if entry.method == "DELETE":
        return run_delete(ctx, services, tx, entry)
    raise BadRequest(f"{entry.where}: {entry.method} {entry.path} is not a valid entry request.")


def run_delete(ctx: Context, services: Services, tx: Tx, entry: Entry) -> Result:
    parts = entry.parts
    check_writable(entry.resource_type)
    if len(parts) == 2:
        return delete.delete(ctx, tx, parts[0], parts[1], if_match=parse_etag(entry.if_match))
    if len(parts) == 1 and entry.query:
        return delete.conditional_delete(ctx, services, tx, parts[0], entry.query)
    raise BadRequest(f"{entry.where}: DELETE needs Type/id or Type?criteria.")


def _run_read(ctx: Context, services: Services, tx: Tx, entry: Entry) -> Result:
    parts = entry.parts
    params = _pairs(entry.query)
    if len(parts) == 1:
        return search.search(ctx, services, tx, parts[0], params)
    if len(parts) == 2:
        return read.read(tx, parts[0], parts[1])
    if len(parts) == 3 and parts[2] == "_history":
        return history.history(ctx, tx, parts[0], parts[1], params)
    if len(parts) == 4 and parts[2] == "_history" and parts[3].isdigit():
        return read.vread(tx, parts[0], parts[1], int(parts[3]))
    raise BadRequest(f"{entry.where}: GET {entry.path} is not a read, vread, history or search.")


def _run_patch(ctx: Context, services: Services, tx: Tx, entry: Entry, if_match: int | None) -> Result:
    resource = entry.resource
    if resource is not None and resource.get("resourceType") == "Binary":
        document: Any = orjson.loads(_binary_data(resource))
        kind: patch.PatchKind = "json-patch"
    elif resource is not None:
        document, kind = resource, "fhirpath-patch"
    else:
        raise BadRequest(f"{entry.where}: a PATCH entry carries a Parameters (FHIRPath Patch) or a Binary "
                         "holding a JSON Patch.")
    if len(entry.parts) == 2:
        return patch.patch(ctx, services, tx, entry.parts[0], entry.parts[1], document, kind, if_match=if_match)
    return patch.conditional_patch(ctx, services, tx, entry.parts[0], entry.query, document, kind,
                                   if_match=if_match)


def response(ctx: Context, result: Result, *, read: bool = False) -> dict[str, Any]:
    """The Bundle entry answering one request entry."""
    out: dict[str, Any] = {}
    record = result.record
    body = result.body
    if body is not None and (read or ctx.prefer_return == "representation"):
        out["resource"] = resource_fragment(record) if isinstance(body, bytes) and record else body
    status = f"{result.status} {_REASONS.get(result.status, '')}".strip()
    answer: dict[str, Any] = {"status": status}
    if record is not None:
        if result.location:
            answer["location"] = f"{record.resource_type}/{record.id}/_history/{record.version}"
        answer["etag"] = f'W/"{record.version}"'
        answer["lastModified"] = to_instant(record.last_updated)
    out["response"] = answer
    return out


def failure(exc: FhirError) -> dict[str, Any]:
    return {"response": {"status": str(exc.status), "outcome": exc.outcome()}}


def _pairs(query: str) -> list[tuple[str, str]]:
    from urllib.parse import parse_qsl

    return parse_qsl(query, keep_blank_values=True)


def _binary_data(resource: dict[str, Any]) -> bytes:
    import base64

    data = resource.get("data")
    if not isinstance(data, str):
        raise BadRequest("A JSON Patch in a Binary needs Binary.data (base64).")
    return base64.b64decode(data)
