"""Extraction of all index rows of a resource (ehr.search.extract)."""

from __future__ import annotations

from typing import Any

import pytest

from ehr.search.extract import extract_index_rows, infer_type
from ehr.search.index_rows import CompositeRow, DateRow, QuantityRow, ReferenceRow, TokenRow, UriRow
from ehr.search.registry import ParamKind, Registry
from ehr.search.values.dates import date_range


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


META = {
    "lastUpdated": "2024-05-01T10:00:00.123Z",
    "tag": [{"system": "http://t", "code": "t1"}],
    "security": [{"system": "http://s", "code": "R"}],
    "profile": ["http://p/StructureDefinition/x"],
    "source": "http://src#42",
}


def test_common_parameters(registry: Registry) -> None:
    rows = extract_index_rows({"resourceType": "Basic", "id": "b1", "meta": META}, registry)
    assert TokenRow("_id", None, "b1") in rows.tokens
    assert TokenRow("_tag", "http://t", "t1") in rows.tokens
    assert TokenRow("_security", "http://s", "R") in rows.tokens
    assert UriRow("_profile", "http://p/StructureDefinition/x") in rows.uris
    assert UriRow("_source", "http://src#42") in rows.uris
    low, high = date_range("2024-05-01T10:00:00.123Z") or (0, 0)
    assert rows.dates == [DateRow("_lastUpdated", low, high)]


def test_synthea_style_observation(registry: Registry) -> None:
    observation: dict[str, Any] = {
        "resourceType": "Observation",
        "id": "o1",
        "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}]},
        "subject": {"reference": "Patient/p1"},
        "encounter": {"reference": "Encounter/e1"},
        "effectiveDateTime": "2004-06-11T18:38:09+00:00",
        "valueQuantity": {
            "value": 72.0,
            "unit": "/min",
            "system": "http://unitsofmeasure.org",
            "code": "/min",
        },
    }
    rows = extract_index_rows(observation, registry)
    assert {r.param for r in rows.references} == {"subject", "patient", "encounter"}
    assert ReferenceRow("patient", "Patient", "p1") in rows.references
    assert {r.param for r in rows.quantities} == {"value-quantity", "combo-value-quantity"}
    quantity = next(q for q in rows.quantities if q.param == "value-quantity")
    assert quantity.canonical_code == "/s"
    assert quantity.canonical_value == pytest.approx(1.2)
    assert [d.param for d in rows.dates] == ["date"]
    code_token = TokenRow("code", "http://loinc.org", "8867-4")
    assert CompositeRow("code-value-quantity", (code_token, quantity)) in rows.composites


def test_texts_and_displays_are_string_rows_of_their_own(registry: Registry) -> None:
    """``:text`` rows: the texts of a token (``code:text``) and the display of a reference
    (``subject:display``, and ``patient:display`` for the same element), never in a composite."""
    observation = {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4", "display": "Heart rate"}],
                 "text": "Pulse"},
        "subject": {"reference": "Patient/p1", "display": "Ève Müller"},
        "performer": [{"display": "Dr. Who"}],
        "valueQuantity": {"value": 72, "system": "http://unitsofmeasure.org", "code": "/min"},
    }
    rows = extract_index_rows(observation, registry)
    texts = {(r.param, r.norm, r.exact) for r in rows.strings}
    assert texts == {("code:text", "heart rate", "Heart rate"), ("code:text", "pulse", "Pulse"),
                     ("combo-code:text", "heart rate", "Heart rate"), ("combo-code:text", "pulse", "Pulse"),
                     ("subject:display", "eve muller", "Ève Müller"),
                     ("patient:display", "eve muller", "Ève Müller"), ("performer:display", "dr. who", "Dr. Who")}
    assert [r for r in rows.tokens if r.param == "code"] == [TokenRow("code", "http://loinc.org", "8867-4")]
    assert {r.param for r in rows.references} == {"subject", "patient"}
    assert rows.composites
    assert all(":" not in c.param for row in rows.composites for c in row.components)


def test_rows_are_deduplicated(registry: Registry) -> None:
    coding = {"system": "http://loinc.org", "code": "x"}
    observation = {"resourceType": "Observation", "code": {"coding": [coding, coding]}}
    rows = extract_index_rows(observation, registry)
    assert [t for t in rows.tokens if t.param == "code"] == [TokenRow("code", "http://loinc.org", "x")]


def test_fallback_values_are_typed_by_shape(registry: Registry) -> None:
    rows = extract_index_rows({"resourceType": "Patient", "deceasedDateTime": "2020-01-01"}, registry)
    assert TokenRow("deceased", None, "true") in rows.tokens


def test_quantity_composite_on_components(registry: Registry) -> None:
    bp = {
        "resourceType": "Observation",
        "component": [
            {"code": {"coding": [{"code": "sys"}]}, "valueQuantity": {"value": 120, "code": "mm[Hg]"}},
            {"code": {"coding": [{"code": "dia"}]}, "valueQuantity": {"value": 80, "code": "mm[Hg]"}},
        ],
    }
    rows = extract_index_rows(bp, registry)
    pairs = set()
    for composite in rows.composites:
        if composite.param == "component-code-value-quantity":
            token, quantity = composite.components
            assert isinstance(token, TokenRow)
            assert isinstance(quantity, QuantityRow)
            pairs.add((token.code, quantity.value))
    assert pairs == {("sys", 120.0), ("dia", 80.0)}


def test_malformed_values_are_skipped_not_raised(registry: Registry) -> None:
    broken = {
        "resourceType": "Observation",
        "id": 12,
        "code": "not a concept",
        "subject": ["Patient/1"],
        "effectiveDateTime": "last tuesday",
        "valueQuantity": {"value": "many"},
        "component": [None, 3, {"valueQuantity": []}],
        "meta": {"tag": "x"},
    }
    rows = extract_index_rows(broken, registry)
    assert rows.quantities == []
    assert rows.dates == []


def test_unknown_resource_type(registry: Registry) -> None:
    with pytest.raises(KeyError):
        extract_index_rows({"resourceType": "Unicorn"}, registry)
    with pytest.raises(KeyError):
        extract_index_rows({}, registry)


@pytest.mark.parametrize(
    ("value", "kind", "expected"),
    [
        (True, ParamKind.TOKEN, "boolean"),
        ("2020", ParamKind.DATE, "dateTime"),
        ("http://x", ParamKind.REFERENCE, "canonical"),
        ({"coding": []}, ParamKind.TOKEN, "CodeableConcept"),
        ({"reference": "Patient/1"}, ParamKind.REFERENCE, "Reference"),
        ({"value": 1, "unit": "mg"}, ParamKind.QUANTITY, "Quantity"),
        ({"system": "s", "value": "1"}, ParamKind.TOKEN, "Identifier"),
        (1.5, ParamKind.NUMBER, "decimal"),
    ],
)
def test_infer_type(value: object, kind: ParamKind, expected: str) -> None:
    assert infer_type(value, kind) == expected
