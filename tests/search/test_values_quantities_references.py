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
    number_range,
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
    ("value", "low", "high"),
    [(100, 99.5, 100.5), (1.5, 1.45, 1.55), (Decimal("1.50"), 1.495, 1.505), ("0.001", 0.0005, 0.0015)],
)
def test_number_precision(value: object, low: float, high: float) -> None:
    assert number_range(value) == (float(Decimal(str(value))), low, high)


def test_non_numbers_are_skipped() -> None:
    assert number_range(True) is None
    assert number_range("abc") is None
    assert number_range("NaN") is None
    assert numbers_from_number("probability", 0.5) == [NumberRow("probability", 0.5, 0.45, 0.55)]


def test_number_range_from_a_range() -> None:
    assert numbers_from_range("probability", {"low": {"value": 0.2}, "high": {"value": 0.4}}) == [
        NumberRow("probability", 0.2, 0.15, 0.45)
    ]
    assert numbers_from_range("probability", {"high": {"value": 1}}) == [NumberRow("probability", 1.0, -math.inf, 1.5)]
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
    assert (row.value, row.low, row.high, row.canonical_code) == (185.0, 184.5, 185.5, "g")
    assert row.canonical_low == pytest.approx(184.5 * 453.59237)
    assert row.canonical_high == pytest.approx(185.5 * 453.59237)


def test_quantity_comparator_opens_one_side() -> None:
    (below,) = quantities_from_quantity("v", {"value": 5, "comparator": "<", "unit": "mg"})
    assert (below.low, below.high, below.code, below.system) == (-math.inf, 5.5, "mg", None)
    (above,) = quantities_from_quantity("v", {"value": 5, "comparator": ">="})
    assert above.high == math.inf


def test_money_and_range() -> None:
    (money,) = quantities_from_money("price", {"value": 10.25, "currency": "EUR"})
    assert (money.system, money.code, money.low, money.high) == (ISO_4217, "EUR", 10.245, 10.255)
    (span,) = quantities_from_range("age", {"low": {"value": 2, "system": UCUM, "code": "a"}})
    assert (span.low, span.high, span.canonical_code) == (1.5, math.inf, "s")
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
