"""The search-parameter registry loaded from the derived official definitions."""

from __future__ import annotations

import pytest

from ehr.search.registry import ParamKind, Registry, SearchParam, parse_param

COMMON = ("_id", "_lastUpdated", "_tag", "_profile", "_security", "_source")


@pytest.fixture(scope="module")
def registry() -> Registry:
    return Registry.load()


def test_load_is_cached(registry: Registry) -> None:
    assert Registry.load() is registry


def test_resource_types_are_r4_types_that_r4b_models(registry: Registry) -> None:
    assert {"Patient", "Observation", "Bundle", "Binary"} <= registry.resource_types
    assert "MedicinalProduct" not in registry.resource_types  # R4 only: fhir.resources R4B lacks it
    assert "DomainResource" not in registry.resource_types
    assert len(registry.resource_types) == 128


def test_every_type_has_the_common_parameters(registry: Registry) -> None:
    for resource_type in registry.resource_types:
        params = registry.params_for(resource_type)
        assert set(COMMON) <= params.keys(), resource_type


def test_observation_parameters(registry: Registry) -> None:
    params = registry.params_for("Observation")
    code = params["code"]
    assert code.type is ParamKind.TOKEN
    assert "Observation.code" in code.expression
    assert params["subject"].type is ParamKind.REFERENCE
    assert "Patient" in params["subject"].targets
    assert params["value-quantity"].type is ParamKind.QUANTITY
    assert "ap" in params["value-quantity"].comparators
    composite = params["code-value-quantity"]
    assert composite.type is ParamKind.COMPOSITE
    assert [(c.code, c.type) for c in composite.components] == [
        ("code", ParamKind.TOKEN),
        ("value-quantity", ParamKind.QUANTITY),
    ]


def test_unknown_type_is_a_key_error_naming_the_fix(registry: Registry) -> None:
    with pytest.raises(KeyError, match="resource_types"):
        registry.params_for("Unicorn")


def test_patient_compartment(registry: Registry) -> None:
    assert set(registry.patient_compartment("Observation")) == {"subject", "performer"}
    assert registry.patient_compartment("Patient") == ("link",)
    assert registry.patient_compartment("Practitioner") == ()
    for resource_type in registry.compartment:
        params = registry.params_for(resource_type)
        assert set(registry.patient_compartment(resource_type)) <= params.keys() | {"{def}"}


def test_every_parameter_kind_is_known(registry: Registry) -> None:
    kinds = {p.type for params in registry.by_type.values() for p in params.values()}
    assert kinds == set(ParamKind)


def test_parse_param_minimal_entry() -> None:
    entry = {"code": "x", "type": "token", "base": ["Patient"], "expression": "Patient.x"}
    assert parse_param(entry) == SearchParam("x", ParamKind.TOKEN, ("Patient",), "Patient.x")


def test_build_applies_resource_and_domain_resource_bases() -> None:
    params = [
        SearchParam("_id", ParamKind.TOKEN, ("Resource",), "Resource.id"),
        SearchParam("_text", ParamKind.STRING, ("DomainResource",), "DomainResource.text"),
    ]
    registry = Registry.build(["Patient", "Bundle"], params, {})
    assert set(registry.params_for("Patient")) == {"_id", "_text"}
    assert set(registry.params_for("Bundle")) == {"_id"}
