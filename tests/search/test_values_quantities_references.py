"""Number, quantity, reference and uri value functions (https://hl7.org/fhir/R4/search.html)."""

from __future__ import annotations

import math
from decimal import Decimal

import pytest

from ehr.search.index_rows import NumberRow, ReferenceRow, StringRow, TokenRow, UriRow
from ehr.search.values.quantities import (
    ISO_4217,
    UCUM,
    canonicalize,
    number_value,
    numbers_from_number,
    numbers_from_range,
    quantities_from_money,
    quantities_from_quantity,
    quantities_from_range,
)
from ehr.search.values.references import (
    references_from_canonical,
    references_from_reference,
    references_from_resource,
    split_reference,
    uri_prefixes,
    uris_from_uri,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(100, 100.0), (1.5, 1.5), (Decimal("1.50"), 1.5), ("0.001", 0.001), ("2.5e-1", 0.25), (-3, -3.0)],
)
def test_a_number_is_its_value(value: object, expected: float) -> None:
    assert number_value(value) == expected
    assert numbers_from_number("probability", value) == [NumberRow("probability", expected, expected, expected)]


def test_non_numbers_are_skipped() -> None:
    assert number_value(True) is None
    assert number_value("abc") is None
    assert number_value("NaN") is None
    assert number_value("Infinity") is None
    assert numbers_from_number("probability", None) == []


def test_number_range_from_a_range() -> None:
    assert numbers_from_range("probability", {"low": {"value": 0.2}, "high": {"value": 0.4}}) == [
        NumberRow("probability", 0.2, 0.2, 0.4)
    ]
    assert numbers_from_range("probability", {"high": {"value": 1}}) == [NumberRow("probability", 1.0, -math.inf, 1.0)]
    assert numbers_from_range("probability", {"low": {}}) == []


@pytest.mark.parametrize(
    ("value", "code", "canonical", "expected"),
    [
        (5.4, "mg", "g", 0.0054),
        (2.0, "[lb_av]", "g", 907.18474),
        (37.0, "Cel", "K", 310.15),
        (98.6, "[degF]", "K", 310.15),
        (120.0, "mm[Hg]", "Pa", 15998.6864898),
        (60.0, "{beats}/min", "/s", 1.0),
        (5.5, "mmol/L", "mol/L", 0.0055),
    ],
)
def test_ucum_canonical_forms(value: float, code: str, canonical: str, expected: float) -> None:
    found = canonicalize(value, UCUM, code)
    assert found is not None
    assert found[0] == canonical
    assert found[1] == pytest.approx(expected)


def test_only_known_ucum_units_are_canonicalised() -> None:
    assert canonicalize(1.0, "http://snomed.info/sct", "mg") is None
    assert canonicalize(1.0, UCUM, "10*3/uL") is None


def test_quantity_row() -> None:
    (row,) = quantities_from_quantity("value-quantity", {"value": 185, "system": UCUM, "code": "[lb_av]"})
    assert (row.value, row.low, row.high, row.canonical_code) == (185.0, 185.0, 185.0, "g")
    assert row.canonical_value == row.canonical_low == row.canonical_high == 83914.58845


def test_conversions_are_exact_then_rounded_once() -> None:
    """The same amount in two units gives the same canonical float, so that boundaries meet exactly."""
    assert canonicalize(95, UCUM, "mg/dL") == canonicalize(0.95, UCUM, "g/L") == ("g/L", 0.95)
    assert canonicalize(98.6, UCUM, "[degF]") == canonicalize(37, UCUM, "Cel") == ("K", 310.15)
    assert canonicalize(72, UCUM, "/min") == ("/s", 1.2)
    assert canonicalize(-math.inf, UCUM, "Cel") == ("K", -math.inf)
    assert canonicalize(1.5e308, UCUM, "kg") == ("g", math.inf)
    assert canonicalize(-1.5e308, UCUM, "kg") == ("g", -math.inf)


def test_quantity_comparator_opens_one_side() -> None:
    (below,) = quantities_from_quantity("v", {"value": 5, "comparator": "<", "unit": "mg"})
    assert (below.low, below.high, below.code, below.system) == (-math.inf, 5.0, "mg", None)
    (above,) = quantities_from_quantity("v", {"value": 5, "comparator": ">=", "system": UCUM, "code": "mg"})
    assert (above.low, above.high, above.canonical_low, above.canonical_high) == (5.0, math.inf, 0.005, math.inf)


def test_money_and_range() -> None:
    (money,) = quantities_from_money("price", {"value": 10.25, "currency": "EUR"})
    assert (money.system, money.code, money.value, money.low, money.high) == (ISO_4217, "EUR", 10.25, 10.25, 10.25)
    (span,) = quantities_from_range("age", {"low": {"value": 2, "system": UCUM, "code": "a"}})
    assert (span.low, span.high, span.canonical_code, span.canonical_low) == (2.0, math.inf, "s", 63115200.0)
    (both,) = quantities_from_range("age", {"low": {"value": 2, "unit": "a"}, "high": {"value": 4.5}})
    assert (both.value, both.low, both.high, both.code) == (2.0, 2.0, 4.5, "a")
    assert quantities_from_range("age", {}) == []


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Patient/123", ReferenceRow("", "Patient", "123")),
        ("https://x.org/fhir/Patient/1/_history/2", ReferenceRow("", "Patient", "1", "https://x.org/fhir/Patient/1/_history/2")),
        ("urn:uuid:0b6f", ReferenceRow("", None, None, "urn:uuid:0b6f")),
        ("#contained", None),
        ("Patient", None),
    ],
)  # fmt: skip
def test_split_reference(text: str, expected: ReferenceRow | None) -> None:
    assert split_reference(text) == expected


def test_reference_rows() -> None:
    assert references_from_reference("subject", {"reference": "Group/g1", "display": "Ève's group"}) == [
        ReferenceRow("subject", "Group", "g1"), StringRow("subject:display", "eve's group", "Ève's group")
    ]
    assert references_from_reference("subject", {"display": "Dr. X"}) == [StringRow("subject:display", "dr. x",
                                                                                    "Dr. X")]
    assert references_from_reference("subject", {"reference": "Group/g1", "display": ""}) == [
        ReferenceRow("subject", "Group", "g1")
    ]
    assert references_from_reference("subject", {"identifier": {"value": "1"}}) == [
        TokenRow("subject:identifier", None, "1")
    ]
    both = {"reference": "Patient/p", "identifier": {"system": "urn:mrn", "value": "7"}}
    assert references_from_reference("subject", both) == [
        ReferenceRow("subject", "Patient", "p"), TokenRow("subject:identifier", "urn:mrn", "7")
    ]
    assert references_from_reference("subject", {"identifier": {"system": "urn:mrn"}}) == []
    canonical = "http://hl7.org/fhir/Questionnaire/q1|2.0"
    assert references_from_canonical("questionnaire", canonical) == [
        ReferenceRow("questionnaire", "Questionnaire", "q1", canonical)
    ]
    assert references_from_resource("composition", {"resourceType": "Composition", "id": "c"}) == [
        ReferenceRow("composition", "Composition", "c")
    ]


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("http://a.org/fhir/ValueSet/1", ["http://a.org/fhir/ValueSet/1", "http://a.org/fhir/ValueSet/1/",
                                          "http://a.org/fhir/ValueSet", "http://a.org/fhir/ValueSet/",
                                          "http://a.org/fhir", "http://a.org/fhir/", "http://a.org", "http://a.org/"]),
        ("http://a.org/fhir/", ["http://a.org/fhir/", "http://a.org/fhir", "http://a.org", "http://a.org/"]),
        ("http://a.org", ["http://a.org"]),
        ("urn:oid:1.2.3", ["urn:oid:1.2.3"]),
    ],
)  # fmt: skip
def test_uri_prefixes(uri: str, expected: list[str]) -> None:
    assert uri_prefixes(uri) == expected


def test_uri_rows() -> None:
    assert uris_from_uri("url", "http://x.org/vs") == [UriRow("url", "http://x.org/vs")]
    assert uris_from_uri("url", "") == []
