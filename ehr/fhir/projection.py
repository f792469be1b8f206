"""``_summary`` and ``_elements``: returning part of a resource, marked SUBSETTED
(https://hl7.org/fhir/R4/search.html#summary, #elements)."""

from __future__ import annotations

from functools import cache
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from ehr.errors import BadRequest

SUBSETTED = {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "SUBSETTED"}
_ALWAYS = ("resourceType", "id", "meta")


def project(resource: dict[str, Any], summary: str | None, elements: str | None) -> dict[str, Any]:
    """The resource reduced by ``_summary`` (true, text, data, false) or ``_elements`` (a list)."""
    if elements:
        keep = {e.strip() for e in elements.split(",") if e.strip()}
        return _subset(resource, lambda k: k in keep or k in _ALWAYS or _mandatory(resource, k))
    if summary in (None, "false"):
        return resource
    if summary == "data":
        return _subset(resource, lambda k: k != "text")
    if summary == "text":
        return _subset(resource, lambda k: k in ("text", *_ALWAYS) or _mandatory(resource, k))
    if summary == "true":
        flagged = summary_elements(str(resource["resourceType"]))
        return _subset(resource, lambda k: k in flagged or k in _ALWAYS)
    raise BadRequest(f"_summary must be true, false, text, data or count, not {summary!r}.")


@cache
def summary_elements(resource_type: str) -> frozenset[str]:
    """Top-level elements the R4 definition marks as part of the summary."""
    fields = get_fhir_model_class(resource_type).model_fields
    return frozenset(
        (info.alias or name) for name, info in fields.items()
        if isinstance(info.json_schema_extra, dict) and info.json_schema_extra.get("summary_element_property")
    )


def _mandatory(resource: dict[str, Any], key: str) -> bool:
    info = get_fhir_model_class(str(resource["resourceType"])).model_fields.get(key)
    return bool(info is not None and isinstance(info.json_schema_extra, dict)
                and info.json_schema_extra.get("element_required"))


def _subset(resource: dict[str, Any], keep: Any) -> dict[str, Any]:
    out = {k: v for k, v in resource.items() if keep(k)}
    meta = dict(out.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), SUBSETTED]
    out["meta"] = meta
    return out
