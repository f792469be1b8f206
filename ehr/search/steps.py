"""The steps compiled FHIRPath walks are made of, over lists of typed JSON nodes.

Each step maps the nodes selected so far to the next ones: a field (``code``), a choice element
(``value[x]`` read as ``valueQuantity``, ``valueString``...), a type filter (``as(Quantity)``), a
literal filter (``where(system='email')``), a reference target filter (``where(resolve() is Patient)``)
or an index (``[0]``).  :func:`fallback` evaluates anything else with ``fhirpathpy``.

Spec: https://hl7.org/fhir/R4/fhirpath.html, https://hl7.org/fhir/R4/search.html#ptypes
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import fhirpathpy
from fhirpathpy.models import models as fhirpath_models

_log = logging.getLogger(__name__)

#: ``(FHIR type code, JSON value)``: ``("CodeableConcept", {...})``, ``("dateTime", "2020-01")``
Node = tuple[str, Any]
Step = Callable[[list[Node]], list[Node]]
Extractor = Callable[[list[Node]], list[Node]]

#: the type of a value produced by the FHIRPath fallback, which does not report datatypes
UNKNOWN_TYPE = "?"
#: datatypes that FHIRPath's ``as``/``is`` treat as Quantity (https://hl7.org/fhir/R4/datatypes.html)
QUANTITY_PROFILES = frozenset({"Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"})


def field_step(name: str, typ: str) -> Step:
    """``.name``: each node's ``name`` value (or every item of a list), typed ``typ``."""

    def step(nodes: list[Node]) -> list[Node]:
        out: list[Node] = []
        for _, value in nodes:
            if not isinstance(value, dict):
                continue
            found = value.get(name)
            if found is None:
                continue
            if isinstance(found, list):
                out.extend((typ, item) for item in found if item is not None)
            else:
                out.append((typ, found))
        return out

    return step


def choice_step(name: str, codes: Sequence[str]) -> Step:
    """``.name`` for a choice element ``name[x]``: ``nameQuantity`` typed Quantity, and so on."""
    keys = tuple((name + code[0].upper() + code[1:], code) for code in codes)

    def step(nodes: list[Node]) -> list[Node]:
        out: list[Node] = []
        for _, value in nodes:
            if isinstance(value, dict):
                for key, typ in keys:
                    found = value.get(key)
                    if found is not None:
                        out.append((typ, found))
        return out

    return step


PRIMITIVES = frozenset(
    {
        "base64Binary", "boolean", "canonical", "code", "date", "dateTime", "decimal", "id", "instant",
        "integer", "markdown", "oid", "positiveInt", "string", "time", "unsignedInt", "uri", "url", "uuid",
    }
)  # fmt: skip


def normalise_type(name: str) -> str:
    """``DateTime`` (as some R4 expressions write it) -> ``dateTime``; other names unchanged."""
    lowered = name[0].lower() + name[1:]
    return lowered if lowered in PRIMITIVES else name


def accepted_types(wanted: str) -> frozenset[str]:
    """Types that FHIRPath ``as(wanted)`` lets through."""
    return frozenset({wanted}) | (QUANTITY_PROFILES if wanted == "Quantity" else frozenset())


def as_step(wanted: str) -> Step:
    """``.as(wanted)`` / ``(... as wanted)``: only nodes of that type (or a Quantity profile)."""
    accepted = accepted_types(wanted)
    return lambda nodes: [node for node in nodes if node[0] in accepted]


def where_step(key: str, literal: str) -> Step:
    """``.where(key='literal')``: only nodes whose ``key`` equals the literal."""
    return lambda nodes: [n for n in nodes if isinstance(n[1], dict) and n[1].get(key) == literal]


def reference_type(reference: Mapping[str, Any]) -> str | None:
    """The resource type a Reference points to: from ``Reference.type``, else from ``Type/id`` (relative
    or absolute, optionally ``/_history/v``) in ``Reference.reference``.
    Spec: https://hl7.org/fhir/R4/references.html#Reference"""
    explicit = reference.get("type")
    if isinstance(explicit, str):
        return explicit.rsplit("/", 1)[-1]
    ref = reference.get("reference")
    if not isinstance(ref, str) or ref.startswith("#"):
        return None
    parts = ref.split("/")
    if len(parts) >= 4 and parts[-2] == "_history":
        parts = parts[:-2]
    return parts[-2] if len(parts) >= 2 else None


def resolve_step(target: str) -> Step:
    """``.where(resolve() is Target)``: only References whose target type is ``target``."""
    return lambda nodes: [n for n in nodes if isinstance(n[1], dict) and reference_type(n[1]) == target]


def index_step(index: int) -> Step:
    """``[index]``: the node at that position, if any."""
    return lambda nodes: nodes[index : index + 1]


def chain(steps: Sequence[Step]) -> Extractor:
    """Apply steps in order, stopping as soon as nothing is selected."""
    if len(steps) == 1:
        return steps[0]

    def run(nodes: list[Node]) -> list[Node]:
        for step in steps:
            if not nodes:
                return nodes
            nodes = step(nodes)
        return nodes

    return run


def fallback(expression: str) -> Extractor:
    """Evaluate with fhirpathpy (compiled once); values are typed :data:`UNKNOWN_TYPE`."""
    evaluate = fhirpathpy.compile(expression, model=fhirpath_models["r4"])

    def run(nodes: list[Node]) -> list[Node]:
        out: list[Node] = []
        for _, value in nodes:
            try:
                found = evaluate(value, {})
            except Exception:  # fhirpathpy signals bad input with assorted exception types
                _log.debug("FHIRPath %r failed; the value is not indexed", expression, exc_info=True)
                continue
            out.extend((UNKNOWN_TYPE, item) for item in found if item is not None)
        return out

    return run


def union(parts: Sequence[Extractor]) -> Extractor:
    """``a | b``: the nodes of every part, in order."""
    if len(parts) == 1:
        return parts[0]
    return lambda nodes: [node for part in parts for node in part(nodes)]
