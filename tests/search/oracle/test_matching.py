"""The oracle's own rules against the worked examples of https://hl7.org/fhir/R4/search.html, and a property:
every prefix answer on dates is consistent with the prefix table's set algebra."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.search.oracle.matching import compare_number, compare_range, match_quantity, match_string
from tests.search.oracle.values import Amount, Interval, date_interval, displays, fold, number_interval, texts


def _n(text: str) -> Interval:
    found = number_interval(text)
    assert found is not None
    return found


@pytest.mark.parametrize(("search", "value", "hit"), [
    ("100", "99.5", True), ("100", "100.49", True), ("100", "100.5", False), ("100.00", "99.996", True),
    ("100.00", "99.99", False), ("2.5e-1", "0.254", True), ("2.5e-1", "0.256", False),
])
def test_number_eq_uses_the_implicit_range(search: str, value: str, hit: bool) -> None:
    assert compare_number("eq", _n(search), _n(value)) is hit


@pytest.mark.parametrize(("prefix", "value", "hit"), [
    ("gt", "100.3", True), ("gt", "100", False), ("ge", "100", True), ("lt", "99.9", True), ("le", "100.0", True),
    ("lt", "100", False), ("ne", "100.2", False), ("ne", "101", True),
])
def test_number_comparisons_ignore_the_search_precision(prefix: str, value: str, hit: bool) -> None:
    assert compare_number(prefix, _n("100"), _n(value)) is hit


def test_dates_by_precision_and_zone() -> None:
    day = date_interval("2021-03-15")
    assert day is not None
    inside = date_interval("2021-03-15T23:30:00+01:00")
    outside = date_interval("2021-03-15T23:30:00-05:00")
    assert inside is not None
    assert outside is not None
    assert compare_range("eq", day, inside)
    assert not compare_range("eq", day, outside)
    assert compare_range("sa", day, outside)


def test_quantities_convert_between_ucum_units() -> None:
    grams = [Amount(_n("70500"), "http://unitsofmeasure.org", "g")]
    assert match_quantity(grams, "eq", _n("70.5"), "http://unitsofmeasure.org", "kg")
    assert not match_quantity(grams, "eq", _n("70.6"), "http://unitsofmeasure.org", "kg")
    assert match_quantity(grams, "lt", _n("155.5"), None, "[lb_av]")


def test_strings_fold_case_and_accents() -> None:
    assert match_string(["Hôpital Général"], "hopital g", None)
    assert not match_string(["Hôpital Général"], "hopital", "exact")
    assert match_string(["Straße"], "STRASSE", None)
    assert fold("Ève") == "eve"


def test_text_is_a_string_search_on_every_associated_text() -> None:
    """https://hl7.org/fhir/R4/search.html#token, ``:text``: "either CodeableConcept.text, Coding.display, or
    Identifier.type.text", matched as a string (starts-with, case and accent insensitive)."""
    concept = {"coding": [{"system": "urn:a", "code": "1", "display": "Heart rate"}, {"display": "Pouls"}],
               "text": "Pulse"}
    assert texts(concept) == ["Pulse", "Heart rate", "Pouls"]
    assert texts({"system": "urn:a", "code": "1", "display": "Ève"}) == ["Ève"]
    assert texts({"system": "urn:mrn", "value": "1", "type": {"text": "MRN", "coding": [{"display": "x"}]}}) == ["MRN"]
    assert texts("final") == []
    assert match_string(texts(concept), "HEART", None)
    assert not match_string(texts(concept), "rate", None)
    assert displays({"reference": "Patient/1", "display": "Ève Müller"}) == ["Ève Müller"]
    assert displays({"reference": "Patient/1"}) == []


PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb")


@given(st.lists(st.integers(-50, 50), min_size=4, max_size=4))
def test_prefix_table_algebra(points: list[int]) -> None:
    a, b, c, d = points
    search = Interval(Decimal(min(a, b)), Decimal(max(a, b)))
    target = Interval(Decimal(min(c, d)), Decimal(max(c, d)))
    answer = {p: compare_range(p, search, target) for p in PREFIXES}
    assert answer["ne"] is not answer["eq"]
    assert answer["ge"] is (answer["gt"] or answer["eq"])
    assert answer["le"] is (answer["lt"] or answer["eq"])
    assert not answer["sa"] or answer["gt"]
    assert not answer["eb"] or answer["lt"]
