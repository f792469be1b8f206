"""The search prefixes, written once for both engines (https://hl7.org/fhir/R4/search.html#prefix).

The comparisons work on SQL columns (giving SQL expressions) and on Python numbers (giving booleans); the
caller passes how to combine them: ``and_``/``or_`` for SQL, ``all``/``any`` for Python.

Dates (:func:`range_condition`): the resource's value is the range [low, high] its precision implies,
and so is the search value.

Numbers and quantities (:func:`number_condition`, https://hl7.org/fhir/R4/search.html#number): the
resource's value is the value itself, the point [v, v] (a Range is [low, high], a Quantity with a
comparator is open on one side). ``eq``, ``ne`` and ``ap`` use the search value's implicit range
``[low, high)`` (``100`` is [99.5, 100.5)); ``gt lt ge le sa eb`` compare with the search value exactly
(``gt100`` is "greater than exactly 100"). On a point, ``sa`` is ``gt`` and ``eb`` is ``lt``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_never

from ehr.search.query import NumberValue, RangeValue

Combine = Callable[..., Any]


def range_condition(v: RangeValue, low: Any, high: Any, both: Combine, either: Combine) -> Any:
    match v.prefix:
        case "eq":  # low <= v.high follows from high <= v.high; said, it bounds an index range on low
            return both(low >= v.low, low <= v.high, high <= v.high)
        case "ne":
            return either(low < v.low, high > v.high)
        case "gt":
            return high > v.high
        case "lt":
            return low < v.low
        case "ge":  # gt, or eq: a range that starts before the search value and ends inside it is neither
            return either(high > v.high, both(low >= v.low, low <= v.high, high <= v.high))
        case "le":
            return either(low < v.low, both(low >= v.low, low <= v.high, high <= v.high))
        case "sa":
            return low > v.high
        case "eb":
            return high < v.low
        case "ap":
            slack = max((v.high - v.low) * 0.1, abs(v.low) * 0.1)
            return both(low <= v.high + slack, high >= v.low - slack)
        case _:
            assert_never(v.prefix)


def number_condition(v: NumberValue, low: Any, high: Any, both: Combine, either: Combine) -> Any:
    """Whether the resource's [low, high] (low == high for a plain value) meets ``v``: for ``eq`` the
    implicit range contains it (``[v.low, v.high)``), for the order prefixes the range above (below)
    ``v.value`` overlaps it, and ``ge``/``le`` also take the point [v.value, v.value] itself."""
    x = v.value
    match v.prefix:
        case "eq":  # low < v.high follows from high < v.high; said, it bounds an index range on low
            return both(low >= v.low, low < v.high, high < v.high)
        case "ne":
            return either(low < v.low, high >= v.high)
        case "gt":
            return high > x
        case "lt":
            return low < x
        case "ge":
            return either(high > x, both(low == x, high == x))
        case "le":
            return either(low < x, both(low == x, high == x))
        case "sa":
            return low > x
        case "eb":
            return high < x
        case "ap":  # the implicit range widened by 10% of the value (the spec's recommendation)
            slack = max(abs(x) * 0.1, v.high - v.low)
            return both(low <= v.high + slack, high >= v.low - slack)
        case _:
            assert_never(v.prefix)
