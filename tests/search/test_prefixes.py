"""Number and quantity prefixes (https://hl7.org/fhir/R4/search.html#number, #quantity, #prefix): worked
edge cases, and properties against the oracle's rules (:mod:`tests.search.oracle.matching`), which share no
code with the server. ``ap`` is left to the server by the spec: it must find at least what the oracle gives.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehr.search.index_rows import IndexRows
from ehr.search.memory import in_number, matches
from ehr.search.query import Criterion, NumberValue, SearchQuery
from ehr.search.query_values import parse_number, parse_quantity
from ehr.search.values.quantities import UCUM, numbers_from_number, numbers_from_range, quantities_from_quantity
from ehr.store.records import VersionRecord
from tests.search.oracle.matching import CONVERSIONS, compare_number, match_quantity
from tests.search.oracle.values import Amount, Interval, number_interval

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")


def _point(text: str) -> tuple[float, float]:
    (row,) = numbers_from_number("p", text)
    return row.low, row.high


def _hit(search: str, value: str) -> bool:
    return in_number(parse_number(search, "p"), *_point(value))


@pytest.mark.parametrize(("search", "value", "hit"), [
    # eq: the search value's implicit range [low, high), the stored value as it is
    ("100", "99.5", True), ("100", "100.4999", True), ("100", "100.5", False), ("100", "99.49", False),
    ("100", "100.0", True), ("100.0", "100.04", True), ("100.0", "100.05", False), ("100.00", "99.995", True),
    # a stored value is not widened by its own precision: 70 is not "69.5 to 70.5"
    ("70.4", "70", False), ("69.6", "70", False), ("70", "70", True),
    # exponents: 2.5e-1 is 0.25 to 2 significant figures, [0.245, 0.255)
    ("2.5e-1", "0.25", True), ("2.5e-1", "0.245", True), ("2.5e-1", "0.255", False), ("0.25", "2.5e-1", True),
    ("1.00e2", "100.4", True), ("1.00e2", "100.5", False), ("2.5E-1", "0.2549", True),
    # gt lt ge le against the search value exactly
    ("gt100", "100", False), ("gt100", "100.3", True), ("gt100", "100.0001", True), ("ge100", "100", True),
    ("ge100", "99.9", False), ("lt100", "100", False), ("lt100", "99.7", True), ("le100", "100", True),
    ("le100", "100.2", False), ("gt0.2", "0.25", True), ("gt0.2", "0.2", False), ("ge0.25", "2.5e-1", True),
    # sa / eb on a point are gt / lt
    ("sa100", "100", False), ("sa100", "100.1", True), ("eb100", "100", False), ("eb100", "99.9", True),
    ("sa0.05", "0.1", True), ("eb0.2", "0.125", True),
    # ne: outside the implicit range
    ("ne100", "100.2", False), ("ne100", "100.5", True), ("ne100", "99.49", True), ("ne0.2", "0.25", True),
    # ap: at least the implicit range, about 10% around the value
    ("ap100", "100.5", True), ("ap100", "108", True), ("ap100", "120", False), ("ap0.25", "0.26", True),
    # negative values
    ("-5", "-5.4", True), ("-5", "-5.5", True), ("-5", "-4.5", False), ("gt-5", "-4.9", True),
    ("gt-5", "-5", False), ("lt-5", "-5.1", True), ("ge-5", "-5", True), ("le-0.5", "-0.6", True),
    ("sa-1", "0", True), ("eb-1", "-1", False), ("ne-5", "-5.2", False), ("ap-100", "-108", True),
])  # fmt: skip
def test_number_prefixes(search: str, value: str, hit: bool) -> None:
    assert _hit(search, value) is hit


@pytest.mark.parametrize(("search", "low", "high", "hit"), [
    ("0.25", 0.245, 0.25, True), ("0.25", 0.2, 0.3, False), ("0.25", 0.245, 0.255, False),  # [low, high)
    ("ne0.25", 0.2, 0.3, True), ("gt0.3", 0.1, 0.4, True), ("gt0.4", 0.1, 0.4, False), ("lt0.1", 0.1, 0.4, False),
    ("lt0.2", 0.1, 0.4, True), ("ge0.4", 0.1, 0.4, False), ("ge0.4", 0.4, 0.4, True), ("le0.1", 0.1, 0.4, False),
    ("sa0.05", 0.1, 0.4, True), ("sa0.1", 0.1, 0.4, False), ("eb0.5", 0.1, 0.4, True), ("eb0.4", 0.1, 0.4, False),
    ("ap0.45", 0.1, 0.4, True), ("gt100", -math.inf, 5.0, False), ("lt100", -math.inf, 5.0, True),
    ("gt100", 5.0, math.inf, True), ("eq100", 5.0, math.inf, False),
])  # fmt: skip
def test_number_prefixes_on_a_range(search: str, low: float, high: float, hit: bool) -> None:
    """A Range (or a Quantity with a comparator) is [low, high]: ``gt`` needs part of it above the value."""
    assert in_number(parse_number(search, "p"), low, high) is hit


def test_a_range_row_keeps_its_ends() -> None:
    (row,) = numbers_from_range("p", {"low": {"value": 0.1}, "high": {"value": 0.4}})
    assert in_number(parse_number("gt0.35", "p"), row.low, row.high)
    assert not in_number(parse_number("gt0.4", "p"), row.low, row.high)


mantissas = st.integers(min_value=-99_999, max_value=99_999)
exponents = st.integers(min_value=-5, max_value=2)


@st.composite
def number_texts(draw: st.DrawFn) -> str:
    """A decimal as a client or a resource writes it: plain (trailing zeros kept) or with an exponent."""
    number = Decimal(draw(mantissas)).scaleb(draw(exponents))
    return draw(st.sampled_from([str(number), f"{number:f}", f"{number:e}", f"{number:E}"]))


def _interval(text: str) -> Interval:
    found = number_interval(text)
    assert found is not None
    return found


def _agrees(prefix: str, server: bool, oracle: bool) -> bool:
    return server >= oracle if prefix == "ap" else server is oracle


def _near(search: str, other: str) -> st.SearchStrategy[str]:
    """Another value, or one on the edges of ``search``'s implicit range or on ``search`` itself."""
    found = _interval(search)
    return st.sampled_from([other, str(found.low), str(found.high), str(found.point), search])


@given(st.sampled_from(PREFIXES), number_texts(), number_texts(), st.data())
def test_points_agree_with_the_oracle(prefix: str, search: str, other: str, data: st.DataObject) -> None:
    value = data.draw(_near(search, other))
    server = in_number(parse_number(prefix + search, "p"), *_point(value))
    assert _agrees(prefix, server, compare_number(prefix, _interval(search), _interval(value)))


@given(st.sampled_from(PREFIXES), number_texts(), number_texts(), number_texts(), st.data())
def test_ranges_agree_with_the_oracle(prefix: str, search: str, one: str, other: str, data: st.DataObject) -> None:
    low, high = sorted((data.draw(_near(search, one)), data.draw(_near(search, other))), key=Decimal)
    (row,) = numbers_from_range("p", {"low": {"value": low}, "high": {"value": high}})
    server = in_number(parse_number(prefix + search, "p"), row.low, row.high)
    target = Interval(Decimal(low), Decimal(high))
    assert _agrees(prefix, server, compare_number(prefix, _interval(search), target))


class _NoGraph:
    def resolve(self, resource_type: str, id: str) -> None:
        return None

    def referrers(self, source_type: str, param: str, target_type: str,
                  target_id: str) -> Iterable[tuple[VersionRecord, IndexRows]]:
        return ()


def _quantity_hit(search: str, value: str, unit: str, comparator: str | None = None) -> bool:
    """What the in-memory engine answers for ``value-quantity=search`` on one stored Quantity."""
    quantity = {"value": value, "system": UCUM, "code": unit, **({"comparator": comparator} if comparator else {})}
    rows = IndexRows(quantities=quantities_from_quantity("value-quantity", quantity))
    criterion = Criterion("value-quantity", "quantity", None, (parse_quantity(search, "value-quantity"),))
    record = VersionRecord("Observation", "o", 1, 0, "t", False, "PUT", b"{}")
    return matches(SearchQuery("Observation", (criterion,)), record, rows, _NoGraph())


@pytest.mark.parametrize(("search", "value", "unit", "hit"), [
    (f"70.5|{UCUM}|kg", "70500", "g", True), (f"gt70.5|{UCUM}|kg", "70500", "g", False),
    (f"ge70.5|{UCUM}|kg", "70500", "g", True), (f"70|{UCUM}|kg", "70500", "g", False),  # 70500 g is 70.5 kg
    (f"eb70.5|{UCUM}|kg", "155.4", "[lb_av]", True),  # 155.4 lb is 70.488... kg
    (f"95|{UCUM}|mg/dL", "0.95", "g/L", True), (f"ge95|{UCUM}|mg/dL", "0.95", "g/L", True),
    (f"gt95|{UCUM}|mg/dL", "0.95", "g/L", False), (f"ne950|{UCUM}|mg/L", "0.95", "g/L", False),
    (f"37|{UCUM}|Cel", "98.6", "[degF]", True), (f"gt310.15|{UCUM}|K", "98.6", "[degF]", False),
    (f"le310.15|{UCUM}|K", "37", "Cel", True), (f"sa36.85|{UCUM}|Cel", "98.6", "[degF]", True),
    (f"gt-10|{UCUM}|Cel", "263.2", "K", True), (f"lt-10|{UCUM}|Cel", "263.15", "K", False),
    (f"ge1|{UCUM}|h", "3600", "s", True), (f"gt1|{UCUM}|h", "3600", "s", False),
    (f"1.2|{UCUM}|/s", "72", "/min", True), ("72||/min", "72", "/min", True), ("72", "72", "/min", True),
    (f"72|{UCUM}|kg", "72", "/min", False), ("72|http://snomed.info/sct|/min", "72", "/min", False),
])  # fmt: skip
def test_quantity_prefixes_with_units(search: str, value: str, unit: str, hit: bool) -> None:
    assert _quantity_hit(search, value, unit) is hit


def test_quantity_comparator_is_a_range() -> None:
    assert _quantity_hit(f"lt3|{UCUM}|mg", "5", "mg", "<")
    assert not _quantity_hit(f"gt5|{UCUM}|mg", "5", "mg", "<")
    assert _quantity_hit(f"gt5000|{UCUM}|ug", "5", "mg", ">=")


UNITS = sorted(CONVERSIONS)


@given(st.sampled_from(PREFIXES), number_texts(), st.sampled_from(UNITS), number_texts(), st.sampled_from(UNITS),
       st.data())
def test_quantities_agree_with_the_oracle(prefix: str, search: str, search_unit: str, other: str, unit: str,
                                          data: st.DataObject) -> None:
    """Same unit, or both converted to the canonical unit of their dimension (exactly, then compared)."""
    value = data.draw(_near(search, other)) if unit == search_unit else other
    server = _quantity_hit(f"{prefix}{search}|{UCUM}|{search_unit}", value, unit)
    stored = [Amount(_interval(value), UCUM, unit)]
    assert _agrees(prefix, server, match_quantity(stored, prefix, _interval(search), UCUM, search_unit))


def test_the_search_value_keeps_its_digits() -> None:
    assert parse_number("gt2.5e-1", "p") == NumberValue("gt", 0.25, 0.245, 0.255)
    assert parse_quantity("le-3|u|x", "p") == NumberValue("le", -3.0, -3.5, -2.5, "u", "x")
