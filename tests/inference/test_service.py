"""InferenceService.suggest: FHIR output validates, carries its basis, and refuses bad inputs with reasons."""

from __future__ import annotations

import math
from typing import Any

import pytest
from fhir.resources.R4B import get_fhir_model_class

from inference.fhir_out import AIAST, INPUT_EXT
from inference.service import InferenceService
from tests.inference.records import (
    ICD10,
    NOW,
    SCT,
    by_type,
    condition,
    news2_vitals,
    observation,
    patient,
    post_mi_record,
)


def validate_all(bundle: dict[str, Any]) -> None:
    get_fhir_model_class("Bundle").model_validate(bundle)
    for entry in bundle["entry"]:
        resource = entry["resource"]
        get_fhir_model_class(resource["resourceType"]).model_validate(resource)


def risk_for(bundle: dict[str, Any], model: str) -> dict[str, Any]:
    found = [r for r in by_type(bundle, "RiskAssessment") if f"({model} v" in r["method"]["text"]]
    assert len(found) == 1
    return found[0]


def test_every_emitted_resource_validates(service: InferenceService) -> None:
    bundle = service.suggest(patient(), post_mi_record() + news2_vitals(), NOW)
    validate_all(bundle)
    assert bundle["type"] == "collection"
    assert {r["resourceType"] for r in (e["resource"] for e in bundle["entry"])} == {
        "RiskAssessment",
        "Provenance",
        "Device",
        "OperationOutcome",
    }


def test_risk_assessment_carries_basis_contributions_and_ai_label(service: InferenceService) -> None:
    bundle = service.suggest(patient(), post_mi_record(), NOW)
    risk = risk_for(bundle, "post-mi-mortality")
    assert AIAST in risk["meta"]["security"]
    refs = {b["reference"] for b in risk["basis"]}
    assert {"Patient/p1", "Observation/hr", "Observation/sbp", "Condition/af"} <= refs
    inputs = {
        next(p["valueString"] for p in ext["extension"] if p["url"] == "feature"): ext
        for ext in risk["extension"]
        if ext["url"] == INPUT_EXT
    }
    assert len(inputs) == 10
    hr = {p["url"]: p for p in inputs["heart_rate"]["extension"]}
    assert hr["value"]["valueQuantity"] == {
        "value": 98.0,
        "unit": "/min",
        "system": "http://unitsofmeasure.org",
        "code": "/min",
    }
    assert hr["date"]["valueDateTime"] == "2025-01-10T10:00:00+00:00"
    assert "contribution" in hr
    devices = by_type(bundle, "Device")
    assert risk["performer"]["reference"] in {f"urn:uuid:{d['id']}" for d in devices}


def test_mortality_probability_is_cox_risk_of_summed_contributions(service: InferenceService) -> None:
    risk = risk_for(service.suggest(patient(), post_mi_record(), NOW), "post-mi-mortality")
    contributions = [
        next(p["valueDecimal"] for p in e["extension"] if p["url"] == "contribution")
        for e in risk["extension"]
        if e["url"] == INPUT_EXT
    ]
    model = service.get("post-mi-mortality")
    assert model is not None
    import json

    h0 = json.loads((model.spec.folder / "metrics.json").read_text())["model"]["baseline_cumulative_hazard_1y"]
    expected = 1 - math.exp(-h0 * math.exp(sum(contributions)))
    assert risk["prediction"][0]["probabilityDecimal"] == pytest.approx(expected, abs=1e-3)


def test_provenance_names_model_device_as_author(service: InferenceService) -> None:
    bundle = service.suggest(patient(), post_mi_record(), NOW)
    risk = risk_for(bundle, "post-mi-mortality")
    prov = next(p for p in by_type(bundle, "Provenance") if p["target"][0]["reference"] == f"urn:uuid:{risk['id']}")
    assert prov["agent"][0]["who"]["reference"] == risk["performer"]["reference"]
    assert prov["agent"][0]["type"]["coding"][0]["code"] == "author"
    assert {"reference": "Observation/hr"} in [e["what"] for e in prov["entity"]]


def test_suggest_is_deterministic(service: InferenceService) -> None:
    assert service.suggest(patient(), post_mi_record(), NOW) == service.suggest(patient(), post_mi_record(), NOW)


def reasons(bundle: dict[str, Any], model: str) -> list[str]:
    texts = [i["details"]["text"] for o in by_type(bundle, "OperationOutcome") for i in o["issue"]]
    return [t for t in texts if t.startswith(f"{model} v")]


def test_not_computed_without_acute_mi(service: InferenceService) -> None:
    record = [r for r in post_mi_record() if r["id"] != "mi"]
    bundle = service.suggest(patient(), record, NOW)
    assert not [r for r in by_type(bundle, "RiskAssessment") if "post-mi" in r["method"]["text"]]
    assert any("acute_mi" in t for t in reasons(bundle, "post-mi-mortality"))
    validate_all(bundle)


@pytest.mark.parametrize(
    ("change", "kind"),
    [
        (lambda r: r.__setitem__("effectiveDateTime", "2025-01-08T10:00:00+00:00"), "stale"),
        (lambda r: r["valueQuantity"].__setitem__("value", 400), "implausible"),
        (lambda r: r.__setitem__("effectiveDateTime", "2025-01-11T10:00:00+00:00"), "invalid"),
        (lambda r: r["valueQuantity"].update(code="kg", unit="kg"), "invalid"),
    ],
)
def test_bad_heart_rate_blocks_suggestion_with_reason(service: InferenceService, change: Any, kind: str) -> None:
    record = post_mi_record()
    change(record[0])
    bundle = service.suggest(patient(), record, NOW)
    outcome = [
        o
        for o in by_type(bundle, "OperationOutcome")
        if o["issue"][0]["details"]["text"].startswith("post-mi-mortality")
    ]
    assert len(outcome) == 1
    issue = outcome[0]["issue"][0]
    assert issue["details"]["coding"][0]["code"] == kind
    assert issue["expression"] == ["heart_rate"]
    validate_all(bundle)


def test_refuted_condition_is_ignored_and_unknown_sex_refused(service: InferenceService) -> None:
    record = [*post_mi_record(), condition("hf", ICD10, "I50.9", verification="refuted")]
    risk = risk_for(service.suggest(patient(), record, NOW), "post-mi-mortality")
    assert {"reference": "Condition/hf"} not in risk["basis"]
    bundle = service.suggest(patient(gender="unknown"), post_mi_record(), NOW)
    assert any("male/female" in t for t in reasons(bundle, "post-mi-mortality"))


def test_blood_pressure_panel_components_are_used(service: InferenceService) -> None:
    record = [r for r in post_mi_record() if r["id"] not in ("sbp", "dbp")]
    panel = observation("bp", "85354-9", 0, "mm[Hg]")
    del panel["valueQuantity"]
    panel["component"] = [
        {
            "code": {"coding": [{"system": "http://loinc.org", "code": c}]},
            "valueQuantity": {
                "value": v,
                "unit": "kPa",
                "system": "http://unitsofmeasure.org",
                "code": "kPa",
            },
        }
        for c, v in (("8480-6", 18.0), ("8462-4", 10.7))
    ]
    risk = risk_for(service.suggest(patient(), [*record, panel], NOW), "post-mi-mortality")
    assert {"reference": "Observation/bp"} in risk["basis"]
    note = risk["note"][0]["text"]
    assert "systolic_bp = 135.011 mm[Hg]" in note


def test_deceased_patient_gets_no_suggestions(service: InferenceService) -> None:
    pat = patient() | {"deceasedBoolean": True}
    bundle = service.suggest(pat, post_mi_record() + news2_vitals(), NOW)
    assert by_type(bundle, "RiskAssessment") == []
    assert len(by_type(bundle, "OperationOutcome")) == 3


def test_condition_matching_by_snomed_and_icd10_prefix(service: InferenceService) -> None:
    record = [*post_mi_record(), condition("hf", SCT, "42343007"), condition("avb", ICD10, "I44.2")]
    risk = risk_for(service.suggest(patient(), record, NOW), "post-mi-mortality")
    assert {"reference": "Condition/hf"} in risk["basis"]
    assert {"reference": "Condition/avb"} in risk["basis"]


def test_caller_errors_are_rejected(service: InferenceService) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        service.suggest(patient(), post_mi_record(), NOW.replace(tzinfo=None))
    with pytest.raises(ValueError, match="with an id"):
        service.suggest({"resourceType": "Patient"}, post_mi_record(), NOW)


def test_operation_definition_validates() -> None:
    from inference.fhir_out import operation_definition

    definition = operation_definition()
    get_fhir_model_class("OperationDefinition").model_validate(definition)
    assert definition["code"] == "ai-suggest"


def test_old_myocardial_infarction_is_not_an_acute_one(service: InferenceService) -> None:
    record = [r for r in post_mi_record() if r["id"] != "mi"]
    record.append(condition("old-mi", ICD10, "I21.9", onset="2019-05-01T00:00:00+00:00"))
    bundle = service.suggest(patient(), record, NOW)
    assert any("within the last 720 h" in t for t in reasons(bundle, "post-mi-mortality"))
