"""Turn a resource into the index rows of every search parameter that applies to its type.

Pure and total: the same resource always gives the same rows, and values that cannot be read are
skipped rather than raised on.  Each parameter's compiled expression (``ehr.search.paths``) yields
``(datatype, value)`` nodes; the parameter's type and the node's datatype select one value function
from ``ehr.search.values``; token and reference values also give the rows their modifiers search
(``code:text``, ``subject:identifier``, ``subject:display``).  The common parameters ``_id``,
``_lastUpdated``, ``_tag``, ``_security``, ``_profile`` and ``_source`` have ``Resource`` as base, so
every resource gets them.  ``special`` parameters (Location ``near``) are not indexed.

Spec: https://hl7.org/fhir/R4/search.html#ptypes, https://hl7.org/fhir/R4/search.html#all
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, assert_never

from ehr.search.index_rows import (
    ComponentRow,
    CompositeRow,
    DateRow,
    IndexRows,
    NumberRow,
    QuantityRow,
    ReferenceRow,
    StringRow,
    TokenRow,
    UriRow,
)
from ehr.search.paths import UNKNOWN_TYPE, CompiledParam, Extractor, Node, compiled_params
from ehr.search.registry import ParamKind, Registry
from ehr.search.values import dates, quantities, references, strings, tokens

#: what stored index rows mean: raised whenever extraction changes the rows it gives for the same resource
#: and registry, so that databases indexed before are rebuilt (``ehr.store.sql.reindex``: ``ehr serve``
#: runs ``ehr reindex`` at start while the recorded version is older). 2: a number or quantity is its
#: value, not the range of its precision (https://hl7.org/fhir/R4/search.html#number); 3: every text of a
#: code (``code:text``) and a reference's display (``subject:display``) are string rows, for ``:text``
EXTRACTION_VERSION = 3

ValueFunction = Callable[[str, Any], list[Any]]

_TOKEN: dict[str, ValueFunction] = {
    "CodeableConcept": tokens.tokens_from_codeable_concept,
    "Coding": tokens.tokens_from_coding,
    "Identifier": tokens.tokens_from_identifier,
    "ContactPoint": tokens.tokens_from_contact_point,
    **dict.fromkeys(("code", "id", "string", "uri", "url", "canonical", "boolean", "oid", "uuid"),
                    tokens.tokens_from_primitive),
}  # fmt: skip
_STRING: dict[str, ValueFunction] = {
    "HumanName": strings.strings_from_human_name,
    "Address": strings.strings_from_address,
    **dict.fromkeys(("string", "markdown", "code", "id", "uri", "url"), strings.string_row),
}
_DATE: dict[str, ValueFunction] = {
    "Period": dates.dates_from_period,
    "Timing": dates.dates_from_timing,
    **dict.fromkeys(("date", "dateTime", "instant"), dates.dates_from_datetime),
}
_NUMBER: dict[str, ValueFunction] = {
    "Range": quantities.numbers_from_range,
    **dict.fromkeys(("decimal", "integer", "positiveInt", "unsignedInt"), quantities.numbers_from_number),
}
_QUANTITY: dict[str, ValueFunction] = {
    "Money": quantities.quantities_from_money,
    "Range": quantities.quantities_from_range,
    **dict.fromkeys(
        ("Quantity", "Age", "Count", "Distance", "Duration", "SimpleQuantity", "MoneyQuantity"),
        quantities.quantities_from_quantity,
    ),
}
_REFERENCE: dict[str, ValueFunction] = {
    "Reference": references.references_from_reference,
    "Resource": references.references_from_resource,
    **dict.fromkeys(("canonical", "uri", "url"), references.references_from_canonical),
}
_URI: dict[str, ValueFunction] = dict.fromkeys(("uri", "url", "canonical", "oid", "uuid"), references.uris_from_uri)


def _table(kind: ParamKind) -> Mapping[str, ValueFunction]:
    """The datatype -> value function table of a (non-composite) parameter type."""
    match kind:
        case ParamKind.TOKEN:
            return _TOKEN
        case ParamKind.STRING:
            return _STRING
        case ParamKind.DATE:
            return _DATE
        case ParamKind.NUMBER:
            return _NUMBER
        case ParamKind.QUANTITY:
            return _QUANTITY
        case ParamKind.REFERENCE:
            return _REFERENCE
        case ParamKind.URI:
            return _URI
        case ParamKind.COMPOSITE | ParamKind.SPECIAL:
            return {}
        case _:
            assert_never(kind)


_DICT_SHAPES = (
    ("coding", "CodeableConcept"),
    ("reference", "Reference"),
    ("resourceType", "Resource"),
    ("family", "HumanName"),
    ("given", "HumanName"),
    ("line", "Address"),
    ("city", "Address"),
    ("start", "Period"),
    ("end", "Period"),
    ("currency", "Money"),
    ("unit", "Quantity"),
)


def infer_type(value: Any, kind: ParamKind) -> str:
    """Guess the datatype of a value from the FHIRPath fallback, which does not report one."""
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "decimal"
    if isinstance(value, str):
        return {ParamKind.DATE: "dateTime", ParamKind.REFERENCE: "canonical"}.get(kind, "string")
    if isinstance(value, Mapping):
        for key, datatype in _DICT_SHAPES:
            if key in value:
                return datatype
        if "value" in value:
            return "Quantity" if kind is ParamKind.QUANTITY else "Identifier"
        if "code" in value:
            return "Coding"
    return UNKNOWN_TYPE


#: rows already computed during one extraction, by (param code, datatype, id of the JSON value):
#: composites reuse the rows of their component parameters (``code``, ``value-quantity`` ...)
Memo = dict[tuple[str, str, int], list[Any]]


def rows_for_nodes(code: str, kind: ParamKind, nodes: list[Node]) -> list[Any]:
    """The rows of parameter ``code`` (of type ``kind``) for the nodes its expression selected."""
    return _rows(code, kind, _table(kind), nodes, {})


def _rows(code: str, kind: ParamKind, table: Mapping[str, ValueFunction], nodes: list[Node], memo: Memo) -> list[Any]:
    out: list[Any] = []
    for datatype, value in nodes:
        key = (code, datatype, id(value))
        found = memo.get(key)
        if found is None:
            function = table.get(infer_type(value, kind) if datatype == UNKNOWN_TYPE else datatype)
            found = memo[key] = function(code, value) if function is not None else []
        out.extend(found)
    return list(dict.fromkeys(out)) if len(out) > 1 else out


@dataclass(frozen=True, slots=True)
class _Component:
    code: str
    kind: ParamKind
    table: Mapping[str, ValueFunction]
    extract: Extractor


def _composite_rows(
    code: str, branches: tuple[tuple[Extractor, tuple[_Component, ...]], ...], root: list[Node], memo: Memo
) -> list[CompositeRow]:
    """Pair the component values found within each element the composite's expression selects.

    Components are evaluated last first (the value part is the most selective) and an element is
    dropped as soon as one component has no value."""
    out: list[CompositeRow] = []
    for extract, components in branches:
        for element in extract(root):
            parts: list[list[ComponentRow]] = []
            for c in components:
                found = [r for r in _rows(c.code, c.kind, c.table, c.extract([element]), memo) if r.param == c.code]
                if not found:
                    break
                parts.append(found)
            else:
                parts.reverse()
                out.extend(CompositeRow(code, combo) for combo in itertools.product(*parts))
    return list(dict.fromkeys(out)) if len(out) > 1 else out


def _field_for(kind: ParamKind) -> str:
    """The :class:`IndexRows` list that rows of a parameter type go to ("" for none)."""
    match kind:
        case ParamKind.TOKEN:
            return "tokens"
        case ParamKind.STRING:
            return "strings"
        case ParamKind.DATE:
            return "dates"
        case ParamKind.NUMBER:
            return "numbers"
        case ParamKind.QUANTITY:
            return "quantities"
        case ParamKind.REFERENCE:
            return "references"
        case ParamKind.URI:
            return "uris"
        case ParamKind.COMPOSITE:
            return "composites"
        case ParamKind.SPECIAL:
            return ""
        case _:
            assert_never(kind)


#: parameter types whose values also give rows of other tables: a token's texts are string rows
#: (``code:text``), a Reference's identifier a token row (``subject:identifier``) and its display a string
#: row (``subject:display``)
_MIXED = frozenset({ParamKind.TOKEN, ParamKind.REFERENCE})
_ROW_FIELDS: Mapping[type, str] = {TokenRow: "tokens", StringRow: "strings", ReferenceRow: "references",
                                   DateRow: "dates", NumberRow: "numbers", QuantityRow: "quantities",
                                   UriRow: "uris"}


@dataclass(frozen=True, slots=True)
class _Plan:
    """What extraction does for one parameter of one resource type, resolved once."""

    code: str
    kind: ParamKind
    field: str
    table: Mapping[str, ValueFunction]
    extract: Extractor
    root_keys: frozenset[str] | None
    #: composites only: per branch, its extractor and its components in reverse order
    branches: tuple[tuple[Extractor, tuple[_Component, ...]], ...] = ()


def _plan(compiled: CompiledParam) -> _Plan:
    param = compiled.param
    branches = tuple(
        (
            branch.extract,
            tuple(
                _Component(c.code, c.type, _table(c.type), extract)
                for c, extract in reversed(list(zip(param.components, branch.components, strict=True)))
            ),
        )
        for branch in compiled.composite
    )
    return _Plan(
        code=param.code,
        kind=param.type,
        field=_field_for(param.type),
        table=_table(param.type),
        extract=compiled.extract,
        root_keys=compiled.root_keys,
        branches=branches,
    )


@dataclass(frozen=True, slots=True)
class _TypePlans:
    """The plans of one resource type, indexed by the top-level keys that can make them match."""

    plans: tuple[_Plan, ...]
    by_key: Mapping[str, tuple[int, ...]]
    always: frozenset[int]


@functools.cache
def _plans(registry: Registry, resource_type: str) -> _TypePlans:
    plans = tuple(p for p in map(_plan, compiled_params(registry, resource_type)) if p.field)
    by_key: dict[str, list[int]] = {}
    for index, plan in enumerate(plans):
        for key in plan.root_keys or ():
            by_key.setdefault(key, []).append(index)
    always = frozenset(i for i, plan in enumerate(plans) if plan.root_keys is None)
    return _TypePlans(plans, {k: tuple(v) for k, v in by_key.items()}, always)


def _selected(typed: _TypePlans, resource: Mapping[str, Any]) -> list[int]:
    """Indexes of the plans that can find something in ``resource``, in parameter order."""
    selected = set(typed.always)
    by_key = typed.by_key
    for key in resource:
        found = by_key.get(key)
        if found:
            selected.update(found)
    return sorted(selected)


def extract_index_rows(resource: Mapping[str, Any], registry: Registry) -> IndexRows:
    """All index rows of ``resource`` (a FHIR JSON object), duplicates removed, in parameter order.

    Raises ``KeyError`` only when ``resourceType`` is not one of ``registry.resource_types``.
    """
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise KeyError("the resource has no resourceType; add one naming a FHIR R4 resource type")
    root: list[Node] = [(resource_type, resource if isinstance(resource, dict) else dict(resource))]
    rows = IndexRows()
    memo: Memo = {}
    typed = _plans(registry, resource_type)
    for index in _selected(typed, resource):
        plan = typed.plans[index]
        if plan.kind is ParamKind.COMPOSITE:
            rows.composites.extend(_composite_rows(plan.code, plan.branches, root, memo))
            continue
        nodes = plan.extract(root)
        if not nodes:
            continue
        found = _rows(plan.code, plan.kind, plan.table, nodes, memo)
        if plan.kind in _MIXED:
            for row in found:
                getattr(rows, _ROW_FIELDS[type(row)]).append(row)
        else:
            getattr(rows, plan.field).extend(found)
    return rows
