"""update, update-as-create and conditional update (https://hl7.org/fhir/R4/http.html#update,
#cond-update), with version-aware updates through ``If-Match`` (#concurrency)."""

from __future__ import annotations

from typing import Any

from ehr.errors import BadRequest, PreconditionFailed
from ehr.fhir import validation
from ehr.fhir.interactions.conditional import single_match
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.create import check_type
from ehr.fhir.interactions.writes import new_id, pending
from ehr.store.protocol import Tx
from ehr.store.records import Method, VersionRecord


def update(ctx: Context, services: Services, tx: Tx, resource_type: str, resource_id: str,
           resource: dict[str, Any], *, if_match: int | None = None, method: Method = "PUT") -> Result:
    check_type(resource_type, resource)
    body_id = resource.get("id")
    if body_id is None:
        raise BadRequest(f"The body has no id; an update must carry \"id\": \"{resource_id}\".")
    if body_id != resource_id:
        raise BadRequest(f"The body's id {body_id!r} differs from the URL's id {resource_id!r}; they must match.")
    validation.validate(resource)
    previous = tx.current(resource_type, resource_id, for_update=True)
    check_version(previous, if_match, resource_type, resource_id)
    write = pending(ctx, services, resource, resource_id, method, previous)
    record = tx.write([write])[0]
    created = previous is None or previous.deleted
    touched = (record,) if previous is None or created else (previous, record)
    return Result(201 if created else 200, record.body, record, location=created, touched=touched)


def conditional_update(ctx: Context, services: Services, tx: Tx, resource_type: str, criteria: str,
                       resource: dict[str, Any], *, if_match: int | None = None) -> Result:
    match = single_match(ctx, services, tx, resource_type, criteria)
    if match is not None:
        if resource.get("id") not in (None, match.id):
            raise BadRequest(f"The body's id differs from the matched {resource_type}/{match.id}.")
        return update(ctx, services, tx, resource_type, match.id, {**resource, "id": match.id},
                      if_match=if_match)
    resource_id = resource.get("id") or new_id()
    return update(ctx, services, tx, resource_type, str(resource_id), {**resource, "id": resource_id},
                  if_match=if_match)


def check_version(previous: VersionRecord | None, if_match: int | None, resource_type: str,
                  resource_id: str) -> None:
    if if_match is None:
        return
    current = None if previous is None else previous.version
    if current != if_match:
        raise PreconditionFailed(
            f"{resource_type}/{resource_id} is at version {current}, not {if_match}; read it again and "
            "apply your change to the current version.",
        )
