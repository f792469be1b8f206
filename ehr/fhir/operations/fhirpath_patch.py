"""FHIRPath Patch (https://hl7.org/fhir/R4/fhirpatch.html): a Parameters resource of operations.

Paths are resolved over the resource's JSON by a small navigator that supports the forms patches
use in practice: dotted element names, ``[n]`` indexes, ``first()``/``last()`` and
``where(element = 'literal')``. A path outside that subset is refused with 422 naming the path.
"""

from __future__ import annotations

import re
from typing import Any

from fhir.resources.R4B import get_fhir_model_class

from ehr.errors import Issue, Unprocessable

_STEP = re.compile(r"(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:\[(?P<index>\d+)\])?")
_WHERE = re.compile(r"where\((?P<field>[A-Za-z_][A-Za-z0-9_]*)\s*=\s*'(?P<value>[^']*)'\)")
Slot = tuple[Any, Any]  # (container, key): dict + str, or list + int


def apply_fhirpath_patch(resource: dict[str, Any], parameters: Any) -> dict[str, Any]:
    if not isinstance(parameters, dict) or parameters.get("resourceType") != "Parameters":
        raise _fail("A FHIRPath Patch is a Parameters resource with 'operation' parameters.", "Parameters")
    for index, operation in enumerate(parameters.get("parameter", [])):
        if operation.get("name") != "operation":
            raise _fail("Every parameter of a FHIRPath Patch must be named 'operation'.",
                        f"Parameters.parameter[{index}]")
        parts = {p.get("name"): p for p in operation.get("part", [])}
        _apply_one(resource, parts, f"Parameters.parameter[{index}]")
    return resource


def _apply_one(resource: dict[str, Any], parts: dict[str, Any], where: str) -> None:
    kind = _text(parts, "type", where)
    path = _text(parts, "path", where)
    if kind == "add":
        _add(resource, path, _text(parts, "name", where), _value(parts, where), where)
    elif kind == "replace":
        container, key = _single(resource, path, where)
        container[key] = _value(parts, where)
    elif kind == "delete":
        for container, key in sorted(_resolve(resource, path, where), key=lambda s: -_order(s[1])):
            del container[key]
        _prune(resource)
    elif kind == "insert":
        _insert(resource, path, _value(parts, where), _int(parts, "index", where), where)
    elif kind == "move":
        _move(resource, path, _int(parts, "source", where), _int(parts, "destination", where), where)
    else:
        raise _fail(f"Unknown FHIRPath Patch operation type {kind!r}; use add, insert, delete, replace or "
                    "move.", f"{where}.part")


def _add(resource: dict[str, Any], path: str, name: str, value: Any, where: str) -> None:
    container, key = _single(resource, path, where)
    target = container[key]
    if not isinstance(target, dict):
        raise _fail(f"Cannot add '{name}' to a primitive at {path}.", where)
    existing = target.get(name)
    if isinstance(existing, list):
        existing.append(value)
    elif existing is None and target is resource and _repeats(str(resource["resourceType"]), name):
        target[name] = [value]
    elif existing is None:
        target[name] = value
    else:
        raise _fail(f"'{name}' already has a value at {path}; use replace to change it.", where)


def _repeats(resource_type: str, name: str) -> bool:
    """Whether a top-level element of ``resource_type`` repeats (its model field is a list)."""
    field = get_fhir_model_class(resource_type).model_fields.get(name)
    return field is not None and "List[" in str(field.annotation)


def _insert(resource: dict[str, Any], path: str, value: Any, index: int, where: str) -> None:
    container, key = _list_slot(resource, path, where)
    items = container[key]
    if not 0 <= index <= len(items):
        raise _fail(f"Insert index {index} is outside 0..{len(items)} for {path}.", where)
    items.insert(index, value)


def _move(resource: dict[str, Any], path: str, source: int, destination: int, where: str) -> None:
    container, key = _list_slot(resource, path, where)
    items = container[key]
    if not (0 <= source < len(items) and 0 <= destination < len(items)):
        raise _fail(f"Move indexes must lie within 0..{len(items) - 1} for {path}.", where)
    items.insert(destination, items.pop(source))


def _list_slot(resource: dict[str, Any], path: str, where: str) -> Slot:
    slots = _resolve(resource, path, where, whole_lists=True)
    if len(slots) != 1 or not isinstance(slots[0][0][slots[0][1]], list):
        raise _fail(f"{path} must name exactly one list.", where)
    return slots[0]


def _single(resource: dict[str, Any], path: str, where: str) -> Slot:
    slots = _resolve(resource, path, where)
    if len(slots) != 1:
        raise _fail(f"{path} matches {len(slots)} elements; the operation needs exactly one.", where)
    return slots[0]


def _resolve(resource: dict[str, Any], path: str, where: str, whole_lists: bool = False) -> list[Slot]:
    steps = _split(path)
    if not steps or steps[0] != resource.get("resourceType"):
        raise _fail(f"Path {path!r} must start with the resource type {resource.get('resourceType')}.", where)
    slots: list[Slot] = [({"$": resource}, "$")]
    for position, step in enumerate(steps[1:]):
        last = whole_lists and position == len(steps) - 2
        slots = _step(slots, step, path, where, keep_list=last)
    return slots


def _step(slots: list[Slot], step: str, path: str, where: str, keep_list: bool) -> list[Slot]:
    if step in ("first()", "last()"):
        return slots[:1] if step == "first()" else slots[-1:]
    where_match = _WHERE.fullmatch(step)
    if where_match:
        name, value = where_match["field"], where_match["value"]
        return [s for s in slots if isinstance(s[0][s[1]], dict) and str(s[0][s[1]].get(name)) == value]
    match = _STEP.fullmatch(step)
    if match is None:
        raise _fail(f"Path {path!r} uses FHIRPath this server's patch does not support ({step!r}); use "
                    "element names, [n], first(), last() or where(element = 'value').", where)
    out: list[Slot] = []
    for container, key in slots:
        node = container[key]
        if not isinstance(node, dict) or match["name"] not in node:
            continue
        child = node[match["name"]]
        if isinstance(child, list) and not keep_list:
            indexes = range(len(child)) if match["index"] is None else [int(match["index"])]
            out.extend((child, i) for i in indexes if i < len(child))
        else:
            out.append((node, match["name"]))
    return out


def _split(path: str) -> list[str]:
    return [p for p in re.split(r"\.(?![^(]*\))", path.strip()) if p]


def _prune(node: Any) -> None:
    if isinstance(node, dict):
        for key in [k for k, v in node.items() if v in ([], {})]:
            del node[key]
        for value in node.values():
            _prune(value)
    elif isinstance(node, list):
        for value in node:
            _prune(value)


def _order(key: Any) -> int:
    return key if isinstance(key, int) else 0


def _text(parts: dict[str, Any], name: str, where: str) -> str:
    part = parts.get(name) or {}
    for key, value in part.items():
        if key.startswith("value") and isinstance(value, str):
            return value
    raise _fail(f"The operation lacks its '{name}' part.", where)


def _int(parts: dict[str, Any], name: str, where: str) -> int:
    value = (parts.get(name) or {}).get("valueInteger")
    if not isinstance(value, int):
        raise _fail(f"The operation's '{name}' part must be a valueInteger.", where)
    return value


def _value(parts: dict[str, Any], where: str) -> Any:
    part = parts.get("value")
    if part is None:
        raise _fail("The operation lacks its 'value' part.", where)
    for key, value in part.items():
        if key.startswith("value"):
            return value
    if "part" in part:
        return {p["name"]: _value({"value": p}, where) for p in part["part"]}
    raise _fail("The operation's value part holds no value[x].", where)


def _fail(message: str, expression: str) -> Unprocessable:
    return Unprocessable(message, issues=[Issue(message, code="processing", expression=(expression,))])
