"""FHIR JSON on the wire: parsing with the rules of the JSON format, and serialisation.

Parsing enforces, in one walk over the body, what pydantic's lax models let through
(https://hl7.org/fhir/R4/json.html):

* no ``null`` outside primitive arrays, no empty objects, arrays or strings;
* strings of at most 1 MiB (https://hl7.org/fhir/R4/datatypes.html#string) and bounded nesting;
* primitives in their JSON type: ``boolean`` is ``true``/``false`` (not ``"true"``), ``integer``,
  ``positiveInt`` and ``unsignedInt`` are JSON integers, ``decimal`` a JSON number, every other
  primitive a JSON string. Element types come from the R4 definitions
  (``ehr/search/data/element_types.json``, derived by ``scripts/derive_search_parameters.py``).

Hostile or malformed bodies are rejected with a 400 naming the element before they reach the
validator or the store.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources as package_files
from typing import Any

import orjson

from ehr.errors import BadRequest, Issue

MAX_STRING = 1024 * 1024
MAX_DEPTH = 64
_INTEGERS = frozenset({"integer", "positiveInt", "unsignedInt"})


def dumps(value: Any, *, pretty: bool = False) -> bytes:
    """Serialise ``value`` as compact (or indented) JSON bytes."""
    if pretty:
        return orjson.dumps(value, option=orjson.OPT_INDENT_2)
    return orjson.dumps(value)


def loads_object(body: bytes) -> dict[str, Any]:
    """Parse a request body that must be one JSON object, checking the FHIR JSON rules."""
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
    """Raise :class:`BadRequest` at the first element that breaks the FHIR JSON rules."""
    resource_type = str(resource.get("resourceType", "Resource"))
    problem = _object(resource, resource_type, 0)
    if problem is not None:
        segments, message = problem
        path = resource_type + "".join(reversed(segments))
        raise BadRequest(f"{path}: {message}", issues=[Issue(f"{path}: {message}", code="structure",
                                                             expression=(path,))])


@cache
def element_types() -> dict[str, tuple[str, ...]]:
    """``Type.element`` (or ``Type.backbone.element``) → its datatypes, from the R4 definitions."""
    text = package_files.files("ehr.search").joinpath("data/element_types.json").read_text("utf-8")
    raw: dict[str, list[str]] = json.loads(text)
    return {path: tuple(types) for path, types in raw.items()}


# A problem is (path segments, innermost first; message). Paths are only built when one is found.
Problem = tuple[list[str], str]


def _object(node: dict[str, Any], definition: str | None, depth: int) -> Problem | None:
    if depth > MAX_DEPTH:
        return [], f"Elements are nested more than {MAX_DEPTH} levels deep; flatten the resource."
    if not node:
        return [], "Empty objects are not allowed in FHIR JSON; omit the element instead."
    for key, value in node.items():
        if key == "resourceType":
            continue
        problem = _member(value, *element(definition, key), depth)
        if problem is not None:
            problem[0].append(f".{key}")
            return problem
    return None


def _member(value: Any, kind: str | None, child: str | None, depth: int) -> Problem | None:
    if value is None:
        return [], "null is not allowed in FHIR JSON; omit the element instead."
    if not isinstance(value, list):
        return _value(value, kind, child, depth)
    if not value:
        return [], "Empty arrays are not allowed in FHIR JSON; omit the element instead."
    for index, item in enumerate(value):
        if item is None:
            continue
        problem = _value(item, kind, child, depth)
        if problem is not None:
            problem[0].append(f"[{index}]")
            return problem
    return None


def _value(item: Any, kind: str | None, child: str | None, depth: int) -> Problem | None:
    if isinstance(item, dict):
        if kind is not None and kind[:1].islower():
            return [], f"A {kind} is a JSON primitive, not an object."
        if kind == "Resource":
            child = str(item.get("resourceType", "Resource"))
        return _object(item, child, depth + 1)
    if isinstance(item, list):
        return [], "Arrays may not be nested in FHIR JSON."
    if isinstance(item, str):
        if len(item) > MAX_STRING:
            return [], "Strings may hold at most 1 MiB (FHIR R4 string); shorten the value."
        if not item.strip():
            return [], "Strings must hold at least one non-whitespace character; omit the element."
    return _primitive(item, kind)


def _primitive(item: Any, kind: str | None) -> Problem | None:
    if kind is None:
        return None
    if not kind[:1].islower():
        return [], f"A {kind} is a JSON object; this value is not."
    if kind == "boolean":
        ok = isinstance(item, bool)
    elif kind in _INTEGERS:
        ok = isinstance(item, int) and not isinstance(item, bool)
    elif kind == "decimal":
        ok = isinstance(item, int | float) and not isinstance(item, bool)
    else:
        ok = isinstance(item, str)
    return None if ok else ([], f"A {kind} must be a JSON {_json_kind(kind)}, not {type(item).__name__}.")


@cache
def element(definition: str | None, key: str) -> tuple[str | None, str | None]:
    """The datatype of ``key`` inside ``definition`` and the definition to walk into; (None, None)
    when unknown (the validator then reports unknown elements)."""
    if definition is None:
        return None, None
    if key.startswith("_"):
        return "Element", "Element"
    types = element_types()
    path = f"{definition}.{key}"
    found = types.get(path)
    if found is None:
        return _choice(types, definition, key)
    kind = found[0] if len(found) == 1 else None
    if kind in ("BackboneElement", "Element"):
        return kind, path
    return kind, kind


def _choice(types: dict[str, tuple[str, ...]], definition: str, key: str) -> tuple[str | None, str | None]:
    for cut in range(len(key) - 1, 0, -1):
        if not key[cut].isupper():
            continue
        options = types.get(f"{definition}.{key[:cut]}[x]")
        if options is None:
            continue
        suffix = key[cut:]
        for option in options:
            if option[:1].upper() + option[1:] == suffix:
                return option, option
        return None, None
    return None, None


def _json_kind(kind: str) -> str:
    if kind == "boolean":
        return "boolean (true or false)"
    if kind in _INTEGERS:
        return "integer"
    return "number" if kind == "decimal" else "string"
