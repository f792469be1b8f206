"""FHIR JSON on the wire: parsing with the shape rules of the JSON format, and serialisation.

Parsing enforces what pydantic's lax models let through (https://hl7.org/fhir/R4/json.html):
no ``null`` outside primitive arrays, no empty objects, arrays or strings, strings of at most
1 MiB (https://hl7.org/fhir/R4/datatypes.html#string) and a bounded nesting depth, so hostile
bodies are rejected with a 400 naming the element instead of reaching the validator or the store.
"""

from __future__ import annotations

from typing import Any

import orjson

from ehr.errors import BadRequest, Issue

MAX_STRING = 1024 * 1024
MAX_DEPTH = 64


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Serialise ``value`` as compact (or indented) JSON bytes."""
    if pretty:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2)
    return orjson.dumps(value)


def loads_object(body: bytes) -> dict[str, Any]:
    """Parse a request body that must be one JSON object, checking the FHIR JSON shape rules."""
    if not body.strip():
        raise BadRequest("The request body is empty; send a FHIR resource as JSON.")
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"The body is not valid JSON ({exc}); send a FHIR resource as JSON.") from exc
    if not isinstance(value, dict):
        raise BadRequest("The body must be a JSON object holding one FHIR resource.")
    check_shape(value)
    return value


def check_shape(resource: dict[str, Any]) -> None:
    """Raise :class:`BadRequest` at the first element that breaks the FHIR JSON shape rules."""
    problem = _walk(resource, str(resource.get("resourceType", "Resource")), 0)
    if problem is not None:
        path, message = problem
        raise BadRequest(message, issues=[Issue(f"{path}: {message}", code="structure", expression=(path,))])


def _walk(value: Any, path: str, depth: int) -> tuple[str, str] | None:
    if depth > MAX_DEPTH:
        return path, f"Elements are nested more than {MAX_DEPTH} levels deep; flatten the resource."
    if isinstance(value, dict):
        if not value:
            return path, "Empty objects are not allowed in FHIR JSON; omit the element instead."
        for key, item in value.items():
            if item is None:
                return f"{path}.{key}", "null is not allowed in FHIR JSON; omit the element instead."
            problem = _walk(item, f"{path}.{key}", depth + 1)
            if problem is not None:
                return problem
        return None
    if isinstance(value, list):
        if not value:
            return path, "Empty arrays are not allowed in FHIR JSON; omit the element instead."
        for index, item in enumerate(value):
            if item is not None:
                problem = _walk(item, f"{path}[{index}]", depth + 1)
                if problem is not None:
                    return problem
        return None
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            return path, "Strings may hold at most 1 MiB (FHIR R4 string); shorten the value."
        if not value.strip():
            return path, "Strings must hold at least one non-whitespace character; omit the element."
    return None
