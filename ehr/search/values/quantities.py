"""Number and quantity values: the range implied by their precision, and UCUM canonical forms.

``1.5`` is indexed as [1.45, 1.55] and ``100`` as [99.5, 100.5] (half a unit of the last significant
digit either side, https://hl7.org/fhir/R4/search.html#number).  Precision is read from the value as the
JSON parser delivered it: a ``Decimal`` or string keeps trailing zeros, a ``float`` does not.  A
Quantity with a comparator is open on one side (``<5`` is [-inf, 5]).  Quantities in UCUM units from
:data:`UCUM_UNITS` also carry the value converted to that dimension's canonical unit, so that
``5.4|http://unitsofmeasure.org|mg`` matches 0.0054 g (https://hl7.org/fhir/R4/search.html#quantity).
Money is indexed with system ``urn:iso:std:iso:4217`` and its currency as code.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from ehr.search.index_rows import NumberRow, QuantityRow
from ehr.search.query import RangeValue

UCUM = "http://unitsofmeasure.org"
ISO_4217 = "urn:iso:std:iso:4217"
_ANNOTATION = re.compile(r"\{[^}]*\}")


def _units(canonical: str, factors: Mapping[str, float]) -> dict[str, tuple[str, float, float]]:
    return {code: (canonical, factor, 0.0) for code, factor in factors.items()}


#: UCUM code -> (canonical code, factor, offset): canonical = value * factor + offset
UCUM_UNITS: dict[str, tuple[str, float, float]] = {
    **_units("g", {"ug": 1e-6, "mg": 1e-3, "g": 1.0, "kg": 1e3, "[lb_av]": 453.59237, "[oz_av]": 28.349523125}),
    **_units("L", {"uL": 1e-6, "mL": 1e-3, "dL": 0.1, "L": 1.0}),
    **_units("m", {"mm": 1e-3, "cm": 1e-2, "m": 1.0, "km": 1e3, "[in_i]": 0.0254, "[ft_i]": 0.3048}),
    **_units("s", {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0, "d": 86400.0, "wk": 604800.0}),
    **_units("s", {"mo": 2629800.0, "a": 31557600.0}),
    **_units("g/L", {"g/L": 1.0, "mg/L": 1e-3, "mg/dL": 1e-2, "g/dL": 10.0, "ug/mL": 1e-3, "ng/mL": 1e-6}),
    **_units("g/L", {"ug/L": 1e-6, "ug/dL": 1e-5, "pg/mL": 1e-9}),
    **_units("mol/L", {"mol/L": 1.0, "mmol/L": 1e-3, "umol/L": 1e-6, "nmol/L": 1e-9, "pmol/L": 1e-12}),
    **_units("Pa", {"Pa": 1.0, "kPa": 1e3, "mm[Hg]": 133.322387415}),
    **_units("/s", {"/s": 1.0, "/min": 1.0 / 60.0, "/h": 1.0 / 3600.0}),
    **_units("g/m2", {"kg/m2": 1e3, "g/m2": 1.0}),
    **_units("1", {"%": 0.01, "1": 1.0}),
    "K": ("K", 1.0, 0.0),
    "Cel": ("K", 1.0, 273.15),
    "[degF]": ("K", 5.0 / 9.0, 459.67 * 5.0 / 9.0),
}


def canonicalize(value: float, system: str | None, code: str | None) -> tuple[str, float] | None:
    """``(canonical code, converted value)`` for a UCUM quantity in a known unit, else None.

    Annotations are ignored as UCUM says (``{beats}/min`` is ``/min``)."""
    if system != UCUM or not code:
        return None
    unit = UCUM_UNITS.get(code) or UCUM_UNITS.get(_ANNOTATION.sub("", code))
    if unit is None:
        return None
    canonical, factor, offset = unit
    return canonical, value * factor + offset


def number_range(value: Any) -> tuple[float, float, float] | None:
    """(value, low, high) of a JSON number, from its precision; None for non-numbers."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    return _number_range(value)


@functools.lru_cache(maxsize=65_536, typed=True)
def _number_range(value: int | float | Decimal | str) -> tuple[float, float, float] | None:
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return None
    if not number.is_finite():
        return None
    exponent = number.as_tuple().exponent
    half = Decimal(5).scaleb(int(exponent) - 1)
    return float(number), float(number - half), float(number + half)


def numbers_from_number(param: str, value: Any) -> list[NumberRow]:
    """decimal / integer / positiveInt / unsignedInt -> one row with its precision range."""
    found = number_range(value)
    return [NumberRow(param, *found)] if found else []


def numbers_from_range(param: str, value: Any) -> list[NumberRow]:
    """Range (RiskAssessment.prediction.probabilityRange) -> one row from low to high, open on a
    missing side; units are ignored, as number search has none."""
    if not isinstance(value, Mapping):
        return []
    low_q, high_q = value.get("low"), value.get("high")
    low_n = number_range(low_q.get("value")) if isinstance(low_q, Mapping) else None
    high_n = number_range(high_q.get("value")) if isinstance(high_q, Mapping) else None
    if low_n is None and high_n is None:
        return []
    number = low_n[0] if low_n else high_n[0] if high_n else 0.0
    return [NumberRow(param, number, low_n[1] if low_n else -math.inf, high_n[2] if high_n else math.inf)]


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _quantity_row(
    param: str, system: str | None, code: str | None, value: float, low: float, high: float
) -> QuantityRow:
    canonical = canonicalize(value, system, code)
    if canonical is None:
        return QuantityRow(param, system, code, value, low, high)
    unit, converted = canonical
    low_c = canonicalize(low, system, code)
    high_c = canonicalize(high, system, code)
    return QuantityRow(
        param, system, code, value, low, high,
        canonical_code=unit, canonical_value=converted,
        canonical_low=low_c[1] if low_c else None, canonical_high=high_c[1] if high_c else None,
    )  # fmt: skip


def quantities_from_quantity(param: str, value: Any) -> list[QuantityRow]:
    """Quantity (and Age, Count, Distance, Duration, SimpleQuantity) -> one row; the code is
    Quantity.code, else Quantity.unit."""
    if not isinstance(value, Mapping):
        return []
    found = number_range(value.get("value"))
    if found is None:
        return []
    number, low, high = found
    comparator = value.get("comparator")
    if comparator in ("<", "<="):
        low = -math.inf
    elif comparator in (">", ">="):
        high = math.inf
    code = _str(value.get("code")) or _str(value.get("unit"))
    return [_quantity_row(param, _str(value.get("system")), code, number, low, high)]


def quantities_from_money(param: str, value: Any) -> list[QuantityRow]:
    """Money -> value in ``urn:iso:std:iso:4217`` currency units."""
    if not isinstance(value, Mapping):
        return []
    found = number_range(value.get("value"))
    currency = _str(value.get("currency"))
    return [QuantityRow(param, ISO_4217 if currency else None, currency, *found)] if found else []


def quantities_from_range(param: str, value: Any) -> list[QuantityRow]:
    """Range -> one row from low to high (open on a missing side); units from whichever side has them."""
    if not isinstance(value, Mapping):
        return []
    low_q, high_q = value.get("low"), value.get("high")
    low_q = low_q if isinstance(low_q, Mapping) else {}
    high_q = high_q if isinstance(high_q, Mapping) else {}
    low_n, high_n = number_range(low_q.get("value")), number_range(high_q.get("value"))
    if low_n is None and high_n is None:
        return []
    unit = low_q if low_n is not None else high_q
    code = _str(unit.get("code")) or _str(unit.get("unit"))
    number = low_n[0] if low_n else high_n[0] if high_n else 0.0
    low = low_n[1] if low_n else -math.inf
    high = high_n[2] if high_n else math.inf
    return [_quantity_row(param, _str(unit.get("system")), code, number, low, high)]


def canonical_range(value: RangeValue) -> tuple[str, RangeValue] | None:
    """A quantity search value converted to its canonical UCUM unit, for comparison with the
    ``canonical_low``/``canonical_high`` of index rows; None when the unit does not convert."""
    low = canonicalize(value.low, value.system or UCUM, value.code)
    high = canonicalize(value.high, value.system or UCUM, value.code)
    if low is None or high is None:
        return None
    return low[0], replace(value, low=low[1], high=high[1])
