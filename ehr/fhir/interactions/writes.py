"""Turning a validated resource into a stored version: server-set id and meta, JSON body, index rows.

``meta.versionId`` and ``meta.lastUpdated`` are always set by the server
(https://hl7.org/fhir/R4/resource.html#Meta); whatever the client sent there is replaced.
"""

from __future__ import annotations

import uuid
from dataclasses import replace
from typing import Any

import orjson

from ehr.errors import BadRequest, MethodNotAllowed
from ehr.fhir.compartment import owner_patient
from ehr.fhir.interactions.context import Context, Services
from ehr.store.records import Method, PendingWrite, VersionRecord, now_us, to_instant

#: resource types no client may write: the server writes AuditEvents, into its append-only log
READ_ONLY_TYPES = frozenset({"AuditEvent"})


def check_writable(resource_type: str) -> None:
    """Refuse (405) any write to a type only the server writes."""
    if resource_type in READ_ONLY_TYPES:
        raise MethodNotAllowed(f"The audit log is append-only: {resource_type}s are written by the server for "
                               "every interaction and cannot be created, changed or deleted through the API.",
                               headers={"Allow": "GET"})


def new_id() -> str:
    return str(uuid.uuid4())


def stamp(resource: dict[str, Any], resource_id: str, version: int, updated: int) -> dict[str, Any]:
    """A copy of ``resource`` with the server's id and meta, keys in the conventional order."""
    meta = dict(resource.get("meta") or {})
    meta["versionId"] = str(version)
    meta["lastUpdated"] = to_instant(updated)
    out: dict[str, Any] = {"resourceType": resource["resourceType"], "id": resource_id, "meta": meta}
    out.update((k, v) for k, v in resource.items() if k not in out)
    return out


def pending(ctx: Context, services: Services, resource: dict[str, Any], resource_id: str,
            method: Method, previous: VersionRecord | None, updated: int | None = None) -> PendingWrite:
    """The write of ``resource`` as the next version after ``previous`` (None: a new resource)."""
    check_writable(str(resource.get("resourceType")))
    version = 1 if previous is None else previous.version + 1
    when = updated if updated is not None else now_us()
    stamped = stamp(resource, resource_id, version, when)
    rows = services.indexer(stamped)
    return PendingWrite(
        resource_type=stamped["resourceType"], id=resource_id, version=version, last_updated=when,
        tenant=ctx.tenant, method=method, body=orjson.dumps(stamped), index=rows,
        expected_version=None if previous is None else previous.version,
        patient=owner_patient(stamped["resourceType"], resource_id, rows, services.registry),
    )


def deletion(ctx: Context, previous: VersionRecord, updated: int | None = None) -> PendingWrite:
    check_writable(previous.resource_type)
    return PendingWrite(
        resource_type=previous.resource_type, id=previous.id, version=previous.version + 1,
        last_updated=updated if updated is not None else now_us(), tenant=ctx.tenant, method="DELETE",
        body=None, index=None, expected_version=previous.version,
    )


def parse_etag(value: str | None) -> int | None:
    """The version in an ``If-Match`` ETag (``W/"3"`` or ``"3"``), or None when absent."""
    if value is None:
        return None
    text = value.strip()
    if text.startswith("W/"):
        text = text[2:]
    text = text.strip('"')
    if not text.isdigit():
        raise BadRequest(f"If-Match must be an ETag such as W/\"3\", not {value!r}.")
    return int(text)


def body_dict(record: VersionRecord) -> dict[str, Any]:
    assert record.body is not None
    parsed: dict[str, Any] = orjson.loads(record.body)
    return parsed


def restamp(writes: list[PendingWrite], when: int) -> list[PendingWrite]:
    """The writes with ``meta.lastUpdated`` moved to ``when``: writes prepared before the database
    lock was taken get the time they are committed, so ``_since`` polling never misses them."""
    new_text = to_instant(when).encode()
    out = []
    for w in writes:
        body = w.body
        if body is not None:
            body = body.replace(to_instant(w.last_updated).encode(), new_text, 1)
        out.append(replace(w, last_updated=when, body=body))
    return out
