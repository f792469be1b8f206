"""``GET /metadata``: the CapabilityStatement, generated from the routes actually mounted and the
search parameters the query parser actually accepts — never written by hand.

Spec: https://hl7.org/fhir/R4/capabilitystatement.html, https://hl7.org/fhir/R4/http.html#capabilities
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from ehr.fhir.validation import resource_types
from ehr.store.records import now_us, to_instant

SEARCHABLE_TYPES = frozenset({"token", "string", "reference", "date", "number", "quantity", "uri", "composite"})
#: the compartment searches mounted (``Patient/[id]/[type]``), by CompartmentDefinition
_COMPARTMENTS = {("GET", "/Patient/{resource_id:fhirid}/{compartment_type:fhirtype}"):
                 "http://hl7.org/fhir/CompartmentDefinition/patient"}
_TYPE_LEVEL = {
    ("GET", "/{resource_type:fhirtype}/{resource_id:fhirid}"): "read",
    ("GET", "/{resource_type:fhirtype}/{resource_id:fhirid}/_history/{version}"): "vread",
    ("PUT", "/{resource_type:fhirtype}/{resource_id:fhirid}"): "update",
    ("PATCH", "/{resource_type:fhirtype}/{resource_id:fhirid}"): "patch",
    ("DELETE", "/{resource_type:fhirtype}/{resource_id:fhirid}"): "delete",
    ("GET", "/{resource_type:fhirtype}/{resource_id:fhirid}/_history"): "history-instance",
    ("GET", "/{resource_type:fhirtype}/_history"): "history-type",
    ("POST", "/{resource_type:fhirtype}"): "create",
    ("GET", "/{resource_type:fhirtype}"): "search-type",
}
_SYSTEM_LEVEL = {("POST", ""): ("transaction", "batch"), ("GET", "/_history"): ("history-system",),
                 ("GET", ""): ("search-system",)}


def capability_statement(registry: Any, base_url: str, routes: Iterable[tuple[str, str]],
                         security: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """``security``: ``rest.security`` (SMART on FHIR, https://hl7.org/fhir/smart-app-launch/conformance.html)."""
    mounted = frozenset(routes)
    rest: dict[str, Any] = {
        "mode": "server",
        "resource": [_resource(t, registry, mounted) for t in sorted(resource_types())],
        "interaction": [{"code": c} for key, codes in _SYSTEM_LEVEL.items() if key in mounted for c in codes],
    }
    compartments = [url for key, url in _COMPARTMENTS.items() if key in mounted]
    if compartments:
        rest["compartment"] = compartments
    if security is not None:
        rest = {"mode": "server", "security": dict(security), **rest}
    return {
        "resourceType": "CapabilityStatement",
        "status": "active",
        "date": to_instant(now_us())[:10],
        "kind": "instance",
        "software": {"name": "ehr-service", "version": "0.1.0"},
        "implementation": {"description": "FHIR R4 records service", "url": base_url},
        "fhirVersion": "4.0.1",
        "format": ["application/fhir+json", "json"],
        "patchFormat": ["application/json-patch+json", "application/fhir+json"],
        "rest": [rest],
    }


def _resource(resource_type: str, registry: Any, mounted: frozenset[tuple[str, str]]) -> dict[str, Any]:
    interactions = [code for key, code in _TYPE_LEVEL.items() if key in mounted]
    params = registry.params_for(resource_type)
    return {
        "type": resource_type,
        "interaction": [{"code": code} for code in interactions],
        "versioning": "versioned-update",
        "readHistory": True,
        "updateCreate": True,
        "conditionalCreate": ("POST", "/{resource_type:fhirtype}") in mounted,
        "conditionalRead": "full-support",
        "conditionalUpdate": ("PUT", "/{resource_type:fhirtype}") in mounted,
        "conditionalDelete": "single" if ("DELETE", "/{resource_type:fhirtype}") in mounted else "not-supported",
        "searchInclude": ["*", *(f"{resource_type}:{code}" for code in _references(params))],
        "searchRevInclude": _revincludes(registry)[resource_type],
        "searchParam": _search_params(params),
        "operation": _operations(mounted, "/{resource_type:fhirtype}/")
        + _operations(mounted, f"/{resource_type}/"),
    }


def _search_params(params: Mapping[str, Any]) -> list[dict[str, str]]:
    out = []
    for code, param in sorted(params.items()):
        kind = str(getattr(param.type, "value", param.type))
        if kind in SEARCHABLE_TYPES:
            entry = {"name": code, "type": kind}
            if getattr(param, "url", ""):
                entry["definition"] = param.url
            out.append(entry)
    return out


def _references(params: Mapping[str, Any]) -> list[str]:
    return sorted(code for code, p in params.items() if str(getattr(p.type, "value", p.type)) == "reference")


@cache
def _revincludes(registry: Any) -> dict[str, list[str]]:
    """Per target type, the ``Source:param`` pairs that can point at it (``_revinclude`` values)."""
    out: dict[str, list[str]] = {t: [] for t in resource_types()}
    for source in sorted(resource_types()):
        params = registry.params_for(source)
        for code in _references(params):
            targets = params[code].targets or tuple(out)
            for target in targets:
                if target in out:
                    out[target].append(f"{source}:{code}")
    return out


@cache
def _operation_names(mounted: frozenset[tuple[str, str]], prefix: str) -> tuple[str, ...]:
    """Operations (``$name``) mounted on paths under ``prefix``."""
    return tuple(sorted({path.rsplit("$", 1)[1] for _, path in mounted
                         if path.startswith(prefix) and "/$" in path}))


def _operations(mounted: frozenset[tuple[str, str]], prefix: str) -> list[dict[str, str]]:
    return [{"name": name, "definition": _DEFINITIONS.get(name, f"OperationDefinition/{name}")}
            for name in _operation_names(mounted, prefix)]


_DEFINITIONS = {"validate": "http://hl7.org/fhir/OperationDefinition/Resource-validate",
                "match": "http://hl7.org/fhir/OperationDefinition/Patient-match",
                "everything": "http://hl7.org/fhir/OperationDefinition/Patient-everything"}
