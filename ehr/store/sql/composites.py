"""Composite index rows as rows of ``idx_composite``: each combination a resource has for a composite
parameter (``CompositeRow``, found within one element) becomes one row per component, sharing the
combination's number (``combo``); ``slot`` is the component's position in the parameter.

Spec: https://hl7.org/fhir/R4/search.html#composite
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, assert_never

from ehr.search.index_rows import (
    ComponentRow,
    CompositeRow,
    DateRow,
    NumberRow,
    QuantityRow,
    ReferenceRow,
    StringRow,
    TokenRow,
    UriRow,
)

#: the value columns of ``idx_composite``, in insert order
VALUE_COLUMNS = ("system", "code", "norm", "exact", "target_type", "target_id", "url", "uri", "value",
                 "low", "high", "canonical_code", "canonical_value", "canonical_low", "canonical_high",
                 "date_low", "date_high")
COLUMNS = ("pk", "res_type", "param", "combo", "slot", *VALUE_COLUMNS)
INSERT = f"INSERT INTO idx_composite ({', '.join(COLUMNS)}) VALUES ({', '.join('?' for _ in COLUMNS)})"  # noqa: S608
_POSITION = {name: i for i, name in enumerate(VALUE_COLUMNS)}


def _values(row: ComponentRow) -> dict[str, Any]:
    """The value columns one component row fills."""
    match row:
        case TokenRow():
            return {"system": row.system, "code": row.code}
        case StringRow():
            return {"norm": row.norm, "exact": row.exact}
        case ReferenceRow():
            return {"target_type": row.target_type, "target_id": row.target_id, "url": row.url}
        case DateRow():
            return {"date_low": row.low, "date_high": row.high}
        case NumberRow():
            return {"value": row.value, "low": row.low, "high": row.high}
        case QuantityRow():
            return {"system": row.system, "code": row.code, "value": row.value, "low": row.low, "high": row.high,
                    "canonical_code": row.canonical_code, "canonical_value": row.canonical_value,
                    "canonical_low": row.canonical_low, "canonical_high": row.canonical_high}
        case UriRow():
            return {"uri": row.uri}
        case _:
            assert_never(row)


def table_rows(pk: int, resource_type: str, composites: Sequence[CompositeRow]) -> list[tuple[Any, ...]]:
    """The ``idx_composite`` rows of one resource, in :data:`COLUMNS` order."""
    out: list[tuple[Any, ...]] = []
    for combo, composite in enumerate(composites):
        for slot, component in enumerate(composite.components):
            values: list[Any] = [None] * len(VALUE_COLUMNS)
            for name, value in _values(component).items():
                values[_POSITION[name]] = value
            out.append((pk, resource_type, composite.param, combo, slot, *values))
    return out
