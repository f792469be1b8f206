"""The search prefixes on ranges, written once for both engines
(https://hl7.org/fhir/R4/search.html#prefix).

The resource's value is the range [low, high] its precision implies, and so is the search value. The
comparisons work on SQL columns (giving SQL expressions) and on Python numbers (giving booleans); the
caller passes how to combine them: ``and_``/``or_`` for SQL, ``all``/``any`` for Python.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, assert_never

from ehr.search.query import RangeValue

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
