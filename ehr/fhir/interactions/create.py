"""create and conditional create (https://hl7.org/fhir/R4/http.html#create, #ccreate)."""

from __future__ import annotations

from typing import Any

from ehr.errors import BadRequest
from ehr.fhir import validation
from ehr.fhir.interactions.conditional import single_match
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.writes import new_id, pending
from ehr.store.protocol import Tx


def create(ctx: Context, services: Services, tx: Tx, resource_type: str, resource: dict[str, Any],
           *, if_none_exist: str | None = None) -> Result:
    """Store ``resource`` under a server-assigned id; an id in the body is ignored, as the spec says."""
    check_type(resource_type, resource)
    validation.validate(resource)
    if if_none_exist:
        existing = single_match(ctx, services, tx, resource_type, if_none_exist)
        if existing is not None:
            return Result(200, existing.body, existing, location=True)
    write = pending(ctx, services, resource, new_id(), "POST", None)
    record = tx.write([write])[0]
    return Result(201, record.body, record, location=True)


def check_type(resource_type: str, resource: dict[str, Any]) -> None:
    validation.require_type(resource_type)
    body_type = resource.get("resourceType")
    if body_type != resource_type:
        raise BadRequest(
            f"The body's resourceType is {body_type!r} but the URL names {resource_type}; send a "
            f"{resource_type} to this URL."
        )
