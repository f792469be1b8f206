"""Validation of resources against the fhir.resources ``R4B`` models.

FHIR R4 4.0.1 is served on the wire; R4B's models are used because the library's default R5 classes
reject about half of R4. Resource types that are not in both R4 and R4B are refused.
pydantic's ``ValidationError`` is translated here, where the library is called, into
:class:`ehr.errors.Unprocessable` carrying one issue per error with the element path as a FHIRPath
``expression`` (``Patient.name[0].family``).

Spec: https://hl7.org/fhir/R4/validation.html, https://hl7.org/fhir/R4/http.html#update
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class
from pydantic import ValidationError

from ehr.errors import Issue, UnknownResourceType, Unprocessable
from ehr.fhir.bindings import check_bindings
from ehr.search.registry import Registry


@cache
def resource_types() -> frozenset[str]:
    """The resource types served: those defined by FHIR R4 4.0.1 that R4B's models also support (the
    search registry's, derived from the official definitions)."""
    return Registry.load().resource_types


def require_type(resource_type: str) -> None:
    """Raise 404 with an OperationOutcome for a resource type this server does not serve."""
    if resource_type not in resource_types():
        raise UnknownResourceType(
            f"Resource type '{resource_type}' is not supported: this server serves FHIR R4 (4.0.1) "
            "resource types; check the spelling (types are case-sensitive) or GET /metadata for the list."
        )


def validate(resource: dict[str, Any]) -> None:
    """Validate ``resource`` (already shape-checked JSON) against the R4B models and the required
    terminology bindings (``ehr.fhir.bindings``), or raise 422 with element paths."""
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise Unprocessable(
            "The resource has no resourceType; add \"resourceType\": \"<Type>\".",
            issues=[Issue("resourceType is missing", code="required", expression=("resourceType",))],
        )
    require_type(resource_type)
    try:
        get_fhir_model_class(resource_type).model_validate(resource)
    except ValidationError as exc:
        raise Unprocessable(
            f"The {resource_type} is not valid FHIR R4; fix the elements listed in the issues.",
            issues=[_issue(resource_type, err) for err in exc.errors(include_url=False)],
        ) from None
    bad_codes = check_bindings(resource)
    if bad_codes:
        raise Unprocessable(
            f"The {resource_type} holds codes outside their required value sets; use the codes listed "
            "in the issues.",
            issues=bad_codes,
        )


def warm_up() -> None:
    """Import every served model class once, so the first requests do not pay for it."""
    for name in resource_types():
        get_fhir_model_class(name)


def _issue(resource_type: str, err: Any) -> Issue:
    path = _expression(resource_type, err.get("loc", ()))
    message = str(err.get("msg", "invalid value"))
    kind = str(err.get("type", ""))
    code = "required" if "required" in message.lower() or kind == "missing" else "value"
    if kind == "extra_forbidden":
        code = "structure"
        message = "Unknown element; remove it or check the spelling against the R4 definition"
    return Issue(f"{path}: {message}", code=code, expression=(path,))


def _expression(resource_type: str, loc: tuple[Any, ...]) -> str:
    out = resource_type
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif str(part) != "__root__":
            out += f".{part}"
    return out
