"""FHIRPath expressions compiled to dict walks (ehr.search.paths)."""

from __future__ import annotations

from typing import Any

import pytest

from ehr.search import paths, steps
from ehr.search.paths import (
    UNKNOWN_TYPE,
    Node,
    UnsupportedPathError,
    branch_applies,
    compile_expression,
    compile_relative,
    compiled_params,
    reference_type,
    root_keys,
    split_branches,
)
from ehr.search.registry import Registry

OBSERVATION: dict[str, Any] = {
    "resourceType": "Observation",
    "id": "o1",
    "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
    "valueQuantity": {"value": 72, "unit": "/min"},
    "subject": {"reference": "Patient/p1"},
    "performer": [
        {"reference": "Practitioner/d1"},
        {"reference": "https://x.org/fhir/Patient/p2/_history/3"},
    ],
    "component": [
        {"code": {"text": "a"}, "valueString": "x"},
        {"code": {"text": "b"}, "valueQuantity": {"value": 1}},
    ],
    "meta": {"lastUpdated": "2024-01-01T00:00:00Z", "tag": [{"code": "t"}]},
}


def run(expression: str, resource: dict[str, Any] = OBSERVATION) -> list[Node]:
    return compile_expression(expression, resource["resourceType"])([(resource["resourceType"], resource)])


def test_split_branches_respects_parentheses_and_quotes() -> None:
    assert split_branches("A.b | (A.c as X) | A.d.where(x='p|q')") == [
        "A.b",
        "(A.c as X)",
        "A.d.where(x='p|q')",
    ]


def test_branch_applies_to_its_type_and_to_relative_paths() -> None:
    assert branch_applies("Observation.code", "Observation")
    assert branch_applies("(Observation.value as Quantity)", "Observation")
    assert branch_applies("Resource.id", "Observation")
    assert branch_applies("name", "InsurancePlan")
    assert not branch_applies("Condition.code", "Observation")


def test_plain_and_nested_paths_are_typed() -> None:
    assert run("Observation.code") == [("CodeableConcept", OBSERVATION["code"])]
    assert run("Resource.meta.lastUpdated") == [("instant", "2024-01-01T00:00:00Z")]
    assert run("Observation.component.code") == [
        ("CodeableConcept", {"text": "a"}),
        ("CodeableConcept", {"text": "b"}),
    ]


def test_choice_types() -> None:
    assert run("Observation.value") == [("Quantity", OBSERVATION["valueQuantity"])]
    assert run("(Observation.value as Quantity)") == [("Quantity", OBSERVATION["valueQuantity"])]
    assert run("Observation.value.as(Quantity)") == [("Quantity", OBSERVATION["valueQuantity"])]
    assert run("(Observation.value as CodeableConcept)") == []
    assert run("Observation.component.value.as(string)") == [("string", "x")]


def test_resolve_filters_references_by_target_type() -> None:
    assert run("Observation.performer.where(resolve() is Patient)") == [
        ("Reference", {"reference": "https://x.org/fhir/Patient/p2/_history/3"})
    ]


def test_where_on_a_literal() -> None:
    patient = {
        "resourceType": "Patient",
        "telecom": [{"system": "phone", "value": "1"}, {"system": "email", "value": "e"}],
    }
    assert run("Patient.telecom.where(system='email')", patient) == [
        ("ContactPoint", {"system": "email", "value": "e"})
    ]


def test_indexer_and_inline_resources() -> None:
    bundle = {
        "resourceType": "Bundle",
        "entry": [{"resource": {"resourceType": "Composition", "id": "c"}}, {}],
    }
    assert run("Bundle.entry[0].resource", bundle) == [("Resource", {"resourceType": "Composition", "id": "c"})]


def test_unsupported_expressions_fall_back_to_fhirpath() -> None:
    with pytest.raises(UnsupportedPathError):
        compile_relative("Patient.deceased.exists() and Patient.deceased != false", "Patient")
    patient = {"resourceType": "Patient", "deceasedDateTime": "2020"}
    assert run("Patient.deceased.exists() and Patient.deceased != false", patient) == [(UNKNOWN_TYPE, True)]


def test_reference_type() -> None:
    assert reference_type({"reference": "Patient/1"}) == "Patient"
    assert reference_type({"reference": "http://x/fhir/Group/1/_history/2"}) == "Group"
    assert reference_type({"reference": "urn:uuid:1", "type": "Device"}) == "Device"
    assert reference_type({"reference": "#c1"}) is None


def test_root_keys() -> None:
    assert root_keys("Observation.code", "Observation") == frozenset({"code"})
    assert root_keys("(Observation.value as Quantity)", "Observation") == frozenset({"valueQuantity"})
    assert root_keys("Observation", "Observation") is None


def test_every_parameter_compiles_and_only_known_ones_fall_back(monkeypatch: pytest.MonkeyPatch) -> None:
    fallbacks: list[str] = []
    original = steps.fallback

    def spy(expression: str) -> steps.Extractor:
        fallbacks.append(expression)
        return original(expression)

    monkeypatch.setattr(paths, "_fallback", spy)
    registry = Registry.load()
    for resource_type in registry.resource_types:
        for param in registry.params_for(resource_type).values():
            paths.compile_param(param, resource_type)
    assert sorted(set(fallbacks)) == [
        "%resource.referenceSeq.chromosome",
        "%resource.referenceSeq.referenceSeqId",
        "Patient.deceased.exists() and Patient.deceased != false",
    ]


def test_compiled_params_are_cached_per_registry_and_type() -> None:
    registry = Registry.load()
    assert compiled_params(registry, "Patient") is compiled_params(registry, "Patient")
