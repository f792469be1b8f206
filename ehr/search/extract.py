"""Turn a resource into the index rows of every search parameter that applies to its type.

Pure and total: the same resource always gives the same rows, and values that cannot be read are
skipped rather than raised on.  Each parameter's compiled expression (``ehr.search.paths``) yields
``(datatype, value)`` nodes; the parameter's type and the node's datatype select one value function
from ``ehr.search.values``.  The common parameters ``_id``, ``_lastUpdated``, ``_tag``, ``_security``,
``_profile`` and ``_source`` have ``Resource`` as base, so every resource gets them.  ``special``
parameters (Location ``near``) are not indexed.

Spec: https://hl7.org/fhir/R4/search.html#ptypes, https://hl7.org/fhir/R4/search.html#all
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Mapping
from typing import Any, assert_never

from ehr.search.index_rows import ComponentRow, CompositeRow, IndexRows
from ehr.search.paths import UNKNOWN_TYPE, CompiledParam, Node, compiled_params
from ehr.search.registry import ParamKind, Registry
from ehr.search.values import dates, quantities, references, strings, tokens

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
_NUMBER: dict[str, ValueFunction] = dict.fromkeys(
    ("decimal", "integer", "positiveInt", "unsignedInt"), quantities.numbers_from_number
)
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
_URI: dict[str, ValueFunction] = dict.fromkeys(
    ("uri", "url", "canonical", "oid", "uuid"), references.uris_from_uri
)


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


def rows_for_nodes(code: str, kind: ParamKind, nodes: list[Node]) -> list[Any]:
    """The rows of parameter ``code`` (of type ``kind``) for the nodes its expression selected."""
    table = _table(kind)
    out: list[Any] = []
    for datatype, value in nodes:
        function = table.get(infer_type(value, kind) if datatype == UNKNOWN_TYPE else datatype)
        if function is not None:
            out.extend(function(code, value))
    return out


def _composite_rows(compiled: CompiledParam, root: list[Node]) -> list[CompositeRow]:
    """Pair the component values found within each element the composite's expression selects."""
    param = compiled.param
    out: list[CompositeRow] = []
    for branch in compiled.composite:
        for element in branch.extract(root):
            parts: list[list[ComponentRow]] = [
                rows_for_nodes(component.code, component.type, extract([element]))
                for component, extract in zip(param.components, branch.components, strict=True)
            ]
            out.extend(CompositeRow(param.code, combo) for combo in itertools.product(*parts))
    return out


def _add(rows: IndexRows, kind: ParamKind, found: list[Any]) -> None:
    match kind:
        case ParamKind.TOKEN:
            rows.tokens.extend(found)
        case ParamKind.STRING:
            rows.strings.extend(found)
        case ParamKind.DATE:
            rows.dates.extend(found)
        case ParamKind.NUMBER:
            rows.numbers.extend(found)
        case ParamKind.QUANTITY:
            rows.quantities.extend(found)
        case ParamKind.REFERENCE:
            rows.references.extend(found)
        case ParamKind.URI:
            rows.uris.extend(found)
        case ParamKind.COMPOSITE:
            rows.composites.extend(found)
        case ParamKind.SPECIAL:
            pass
        case _:
            assert_never(kind)


def _dedupe(rows: IndexRows) -> IndexRows:
    return IndexRows(
        tokens=list(dict.fromkeys(rows.tokens)),
        strings=list(dict.fromkeys(rows.strings)),
        references=list(dict.fromkeys(rows.references)),
        dates=list(dict.fromkeys(rows.dates)),
        numbers=list(dict.fromkeys(rows.numbers)),
        quantities=list(dict.fromkeys(rows.quantities)),
        uris=list(dict.fromkeys(rows.uris)),
        composites=list(dict.fromkeys(rows.composites)),
    )


def extract_index_rows(resource: Mapping[str, Any], registry: Registry) -> IndexRows:
    """All index rows of ``resource`` (a FHIR JSON object), duplicates removed, in parameter order.

    Raises ``KeyError`` only when ``resourceType`` is not one of ``registry.resource_types``.
    """
    resource_type = resource.get("resourceType")
    if not isinstance(resource_type, str):
        raise KeyError("the resource has no resourceType; add one naming a FHIR R4 resource type")
    root: list[Node] = [(resource_type, resource)]
    rows = IndexRows()
    for compiled in compiled_params(registry, resource_type):
        kind = compiled.param.type
        if kind is ParamKind.COMPOSITE:
            _add(rows, kind, _composite_rows(compiled, root))
        elif kind is not ParamKind.SPECIAL:
            _add(rows, kind, rows_for_nodes(compiled.param.code, kind, compiled.extract(root)))
    return _dedupe(rows)
