"""Number and quantity values: the value itself, and UCUM canonical forms.

A stored number is compared as the value it is (https://hl7.org/fhir/R4/search.html#number: the
precision of a search value gives it a range, a resource's value is matched as written), so a plain
number or Quantity is indexed as the point [v, v]; a Range as [low, high], open on a missing side; a
Quantity with a comparator as open on one side (``<5`` is [-inf, 5]).  The search side (the implicit
range of ``100``, prefixes) is in ``ehr.search.query_values`` and ``ehr.search.prefixes``.

Numbers are read as the decimal they were written as (a ``float`` by its shortest ``repr``), so a
conversion is done in exact rational arithmetic and rounded once: ``95 mg/dL`` and ``0.95 g/L`` give
the same canonical float, and so do ``98.6 [degF]`` and ``37 Cel``.  Quantities in UCUM units from
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
from fractions import Fraction
from typing import Any

from ehr.search.index_rows import NumberRow, QuantityRow
from ehr.search.query import NumberValue

UCUM = "http://unitsofmeasure.org"
ISO_4217 = "urn:iso:std:iso:4217"
_ANNOTATION = re.compile(r"\{[^}]*\}")
_ZERO = Fraction(0)


def _units(canonical: str, factors: Mapping[str, str | Fraction]) -> dict[str, tuple[str, Fraction, Fraction]]:
    return {code: (canonical, Fraction(factor), _ZERO) for code, factor in factors.items()}


#: UCUM code -> (canonical code, factor, offset), exact: canonical = value * factor + offset
UCUM_UNITS: dict[str, tuple[str, Fraction, Fraction]] = {
    **_units("g", {"ug": "1e-6", "mg": "1e-3", "g": "1", "kg": "1e3", "[lb_av]": "453.59237",
                   "[oz_av]": "28.349523125"}),
    **_units("L", {"uL": "1e-6", "mL": "1e-3", "dL": "0.1", "L": "1"}),
    **_units("m", {"mm": "1e-3", "cm": "1e-2", "m": "1", "km": "1e3", "[in_i]": "0.0254", "[ft_i]": "0.3048"}),
    **_units("s", {"ms": "1e-3", "s": "1", "min": "60", "h": "3600", "d": "86400", "wk": "604800"}),
    **_units("s", {"mo": "2629800", "a": "31557600"}),
    **_units("g/L", {"g/L": "1", "mg/L": "1e-3", "mg/dL": "1e-2", "g/dL": "10", "ug/mL": "1e-3", "ng/mL": "1e-6"}),
    **_units("g/L", {"ug/L": "1e-6", "ug/dL": "1e-5", "pg/mL": "1e-9"}),
    **_units("mol/L", {"mol/L": "1", "mmol/L": "1e-3", "umol/L": "1e-6", "nmol/L": "1e-9", "pmol/L": "1e-12"}),
    **_units("Pa", {"Pa": "1", "kPa": "1e3", "mm[Hg]": "133.322387415"}),
    **_units("/s", {"/s": "1", "/min": Fraction(1, 60), "/h": Fraction(1, 3600)}),
    **_units("g/m2", {"kg/m2": "1e3", "g/m2": "1"}),
    **_units("1", {"%": "0.01", "1": "1"}),
    "K": ("K", Fraction(1), _ZERO),
    "Cel": ("K", Fraction(1), Fraction("273.15")),
    "[degF]": ("K", Fraction(5, 9), Fraction("459.67") * Fraction(5, 9)),
}  # fmt: skip


def canonicalize(value: float, system: str | None, code: str | None) -> tuple[str, float] | None:
    """``(canonical code, converted value)`` for a UCUM quantity in a known unit, else None.

    Annotations are ignored as UCUM says (``{beats}/min`` is ``/min``); infinities stay infinite."""
    if system != UCUM or not code:
        return None
    unit = UCUM_UNITS.get(code) or UCUM_UNITS.get(_ANNOTATION.sub("", code))
    if unit is None:
        return None
    canonical, factor, offset = unit
    return canonical, _convert(value, factor, offset)


@functools.lru_cache(maxsize=65_536)
def _convert(value: float, factor: Fraction, offset: Fraction) -> float:
    """``value * factor + offset`` with ``value`` read as its shortest decimal, rounded once (beyond the
    largest float: infinite, as float arithmetic gives)."""
    if not math.isfinite(value):
        return value
    exact = Fraction(Decimal(repr(value))) * factor + offset
    try:
        return float(exact)
    except OverflowError:
        return math.inf if exact > 0 else -math.inf


def number_value(value: Any) -> float | None:
    """A JSON number's value; None for non-numbers (booleans, text that is not a finite decimal)."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    return _number(value)


@functools.lru_cache(maxsize=65_536, typed=True)
def _number(value: int | float | Decimal | str) -> float | None:
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    except InvalidOperation:
        return None
    return float(number) if number.is_finite() else None


def numbers_from_number(param: str, value: Any) -> list[NumberRow]:
    """decimal / integer / positiveInt / unsignedInt -> one row, the point [v, v]."""
    found = number_value(value)
    return [NumberRow(param, found, found, found)] if found is not None else []


def _bounds(value: Mapping[str, Any]) -> tuple[Mapping[str, Any], float | None, Mapping[str, Any], float | None]:
    """A Range's low and high Quantities (empty when absent) and their values."""
    low_q, high_q = value.get("low"), value.get("high")
    low_q = low_q if isinstance(low_q, Mapping) else {}
    high_q = high_q if isinstance(high_q, Mapping) else {}
    return low_q, number_value(low_q.get("value")), high_q, number_value(high_q.get("value"))


def numbers_from_range(param: str, value: Any) -> list[NumberRow]:
    """Range (RiskAssessment.prediction.probabilityRange) -> one row from low to high, open on a
    missing side; units are ignored, as number search has none. ``value`` is the low end (else the high),
    which ``_sort`` uses."""
    if not isinstance(value, Mapping):
        return []
    _, low, _, high = _bounds(value)
    if low is None and high is None:
        return []
    number = low if low is not None else high
    assert number is not None
    return [NumberRow(param, number, -math.inf if low is None else low, math.inf if high is None else high)]


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
    """Quantity (and Age, Count, Distance, Duration, SimpleQuantity) -> one row, the point [v, v], or open
    on one side with a comparator; the code is Quantity.code, else Quantity.unit."""
    if not isinstance(value, Mapping):
        return []
    number = number_value(value.get("value"))
    if number is None:
        return []
    low = high = number
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
    number = number_value(value.get("value"))
    currency = _str(value.get("currency"))
    if number is None:
        return []
    return [QuantityRow(param, ISO_4217 if currency else None, currency, number, number, number)]


def quantities_from_range(param: str, value: Any) -> list[QuantityRow]:
    """Range -> one row from low to high (open on a missing side); units from whichever side has them."""
    if not isinstance(value, Mapping):
        return []
    low_q, low, high_q, high = _bounds(value)
    if low is None and high is None:
        return []
    unit = low_q if low is not None else high_q
    code = _str(unit.get("code")) or _str(unit.get("unit"))
    number = low if low is not None else high
    assert number is not None
    return [_quantity_row(param, _str(unit.get("system")), code, number,
                          -math.inf if low is None else low, math.inf if high is None else high)]


def canonical_number(value: NumberValue) -> tuple[str, NumberValue] | None:
    """A quantity search value converted to its canonical UCUM unit (its value and both ends of its
    implicit range), for comparison with the ``canonical_*`` columns of index rows; None when the unit
    does not convert. A value without a system is read as UCUM."""
    system = value.system or UCUM
    found = canonicalize(value.value, system, value.code)
    if found is None:
        return None
    unit, number = found
    low, high = (_converted(x, system, value.code) for x in (value.low, value.high))
    return unit, replace(value, value=number, low=low, high=high)


def _converted(value: float, system: str, code: str | None) -> float:
    found = canonicalize(value, system, code)
    assert found is not None
    return found[1]
