"""``$validate`` (https://hl7.org/fhir/R4/resource-operation-validate.html): validate a resource
without storing it; the answer is always an OperationOutcome (200 when valid, 422 listing issues)."""

from __future__ import annotations

from typing import Any

from ehr.errors import BadRequest, FhirError, information
from ehr.fhir import validation
from ehr.fhir.interactions.context import Result

_MODES = (None, "create", "update", "delete")


def validate(resource_type: str, resource_id: str | None, body: dict[str, Any], mode: str | None) -> Result:
    if mode not in _MODES:
        raise BadRequest(f"$validate mode must be create, update or delete, not {mode!r}.")
    resource = _unwrap(body)
    if resource.get("resourceType") != resource_type:
        raise BadRequest(f"$validate on {resource_type} needs a {resource_type}, not {resource.get('resourceType')!r}.")
    if mode == "update" and resource.get("id") != resource_id:
        raise BadRequest("For mode=update the resource's id must equal the URL's id.")
    try:
        validation.validate(resource)
    except FhirError as exc:
        return Result(exc.status, exc.outcome())
    return Result(200, information(f"The {resource_type} is valid FHIR R4."))


def _unwrap(body: dict[str, Any]) -> dict[str, Any]:
    """A Parameters body carries the resource in its 'resource' parameter."""
    if body.get("resourceType") != "Parameters":
        return body
    for parameter in body.get("parameter", []):
        if parameter.get("name") == "resource" and isinstance(parameter.get("resource"), dict):
            found: dict[str, Any] = parameter["resource"]
            return found
    raise BadRequest("A Parameters body for $validate needs a 'resource' parameter.")
