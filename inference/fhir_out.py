"""FHIR R4 resources for model output: Device, RiskAssessment, DiagnosticReport/Observation, Provenance,
OperationOutcome, and the ``collection`` Bundle that carries them.

- RiskAssessment (https://hl7.org/fhir/R4/riskassessment.html): ``performer`` is the model's Device,
  ``basis`` references every input resource, ``prediction`` holds the probability and, where the model
  defines one, a qualitative risk from http://terminology.hl7.org/CodeSystem/risk-probability.
- Each input's value, unit, date, source and contribution is a complex extension (:data:`INPUT_EXT`).
- AI Transparency on FHIR (http://hl7.org/fhir/uv/aitransparency/): AI-asserted resources carry the
  ``AIAST`` security label in ``meta.security``, and a Provenance names the model Device as author agent.
Ids are UUID v5 of (patient, model, version, time), so the same inputs give the same Bundle.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from inference.features import Input, Problem
from inference.repository import ModelSpec

CANONICAL = "https://ehr-service.example/fhir"
INPUT_EXT = f"{CANONICAL}/StructureDefinition/ai-input"
SCORE_EXT = f"{CANONICAL}/StructureDefinition/ai-score"
MODEL_ID_SYSTEM = f"{CANONICAL}/model-sha256"
AIAST = {
    "system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
    "code": "AIAST",
    "display": "Artificial Intelligence asserted",
}
RISK_PROBABILITY = "http://terminology.hl7.org/CodeSystem/risk-probability"
UCUM = "http://unitsofmeasure.org"
_NS = uuid.UUID("6f1c1f5e-2b7a-4f1e-9a59-0c3f4e1d2a10")
_ISSUE_CODE = {
    "missing": "not-found",
    "stale": "expired",
    "implausible": "value",
    "invalid": "invalid",
    "ineligible": "business-rule",
}


def stable_id(*parts: str) -> str:
    """Deterministic UUID for a generated resource."""
    return str(uuid.uuid5(_NS, "|".join(parts)))


def urn(resource: Mapping[str, Any]) -> str:
    """The ``urn:uuid:`` fullUrl used for references inside the Bundle."""
    return f"urn:uuid:{resource['id']}"


def instant(now: datetime) -> str:
    """FHIR instant with time zone."""
    return now.isoformat(timespec="seconds")


def device(spec: ModelSpec) -> dict[str, Any]:
    """The model as a software Device (one per model version)."""
    return {
        "resourceType": "Device",
        "id": stable_id("Device", spec.name, spec.version),
        "identifier": [{"system": MODEL_ID_SYSTEM, "value": spec.onnx_sha256}],
        "status": "active",
        "manufacturer": "ehr-service",
        "deviceName": [
            {"name": spec.title, "type": "user-friendly-name"},
            {"name": spec.name, "type": "model-name"},
        ],
        "modelNumber": spec.name,
        "version": [{"value": spec.version}],
        "type": {"text": "AI/ML software model (ONNX)"},
        "note": [{"text": f"Model card: models/{spec.name}/{spec.version}/card.md"}],
    }


def _input_extension(item: Input, contribution: float | None) -> dict[str, Any]:
    parts: list[dict[str, Any]] = [{"url": "feature", "valueString": item.feature}]
    if item.unit is not None:
        parts.append(
            {
                "url": "value",
                "valueQuantity": {
                    "value": round(item.value, 4),
                    "unit": item.unit,
                    "system": UCUM,
                    "code": item.unit,
                },
            }
        )
    else:
        parts.append({"url": "value", "valueDecimal": round(item.value, 4)})
    parts.append({"url": "display", "valueString": item.display})
    if item.date:
        key = "valueDate" if len(item.date) <= 10 else "valueDateTime"
        parts.append({"url": "date", key: item.date})
    if item.source:
        parts.append({"url": "source", "valueReference": {"reference": item.source}})
    if contribution is not None:
        parts.append({"url": "contribution", "valueDecimal": round(contribution, 4)})
    return {"url": INPUT_EXT, "extension": parts}


def _basis(patient_ref: str, inputs: Sequence[Input]) -> list[dict[str, str]]:
    refs = [patient_ref] + [i.source for i in inputs if i.source]
    return [{"reference": r} for r in dict.fromkeys(refs)]


def _narrative_note(spec: ModelSpec, inputs: Sequence[Input], contributions: Sequence[float]) -> str:
    rows = [
        f"{i.feature} = {i.display}{f' ({i.date})' if i.date else ''}: {c:+.3f}"
        for i, c in zip(inputs, contributions, strict=True)
    ]
    return f"Contributions in {spec.contribution_unit}: " + "; ".join(rows)


def risk_assessment(
    spec: ModelSpec,
    patient_ref: str,
    now: datetime,
    inputs: Sequence[Input],
    contributions: Sequence[float],
    probability: float | None,
    qualitative: tuple[str, str] | None,
    score: float | None,
) -> dict[str, Any]:
    """A RiskAssessment whose basis and extensions carry every input and its contribution."""
    prediction: dict[str, Any] = {"outcome": dict(spec.outcome)}
    if probability is not None:
        prediction["probabilityDecimal"] = round(probability, 4)
    if qualitative is not None:
        prediction["qualitativeRisk"] = {
            "coding": [{"system": RISK_PROBABILITY, "code": qualitative[0]}],
            "text": qualitative[1],
        }
    if spec.horizon_days is not None:
        prediction["whenPeriod"] = {
            "start": instant(now),
            "end": instant(now + timedelta(days=spec.horizon_days)),
        }
    if score is not None:
        prediction["rationale"] = f"{spec.title}: {score:g}"
    resource: dict[str, Any] = {
        "resourceType": "RiskAssessment",
        "id": stable_id(patient_ref, spec.name, spec.version, instant(now)),
        "meta": {"security": [AIAST]},
        "status": "preliminary",
        "method": {"text": f"{spec.title} ({spec.name} v{spec.version})"},
        "subject": {"reference": patient_ref},
        "occurrenceDateTime": instant(now),
        "performer": {"reference": urn(device(spec)), "display": f"{spec.name} v{spec.version}"},
        "basis": _basis(patient_ref, inputs),
        "prediction": [prediction],
        "note": [{"text": _narrative_note(spec, inputs, contributions)}],
        "extension": [_input_extension(i, c) for i, c in zip(inputs, contributions, strict=True)],
    }
    if score is not None:
        resource["extension"].append({"url": SCORE_EXT, "valueDecimal": round(score, 4)})
    return resource


def provenance(
    spec: ModelSpec, targets: Sequence[Mapping[str, Any]], sources: Sequence[str], now: datetime
) -> dict[str, Any]:
    """Provenance for AI output: the model Device is the author agent; inputs are source entities."""
    return {
        "resourceType": "Provenance",
        "id": stable_id("Provenance", *[str(t["id"]) for t in targets]),
        "target": [{"reference": urn(t)} for t in targets],
        "recorded": instant(now),
        "occurredDateTime": instant(now),
        "activity": {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/v3-DataOperation", "code": "CREATE"}]
        },
        "agent": [
            {
                "type": {
                    "coding": [
                        {
                            "system": "http://terminology.hl7.org/CodeSystem/provenance-participant-type",
                            "code": "author",
                        }
                    ]
                },
                "who": {"reference": urn(device(spec)), "display": f"{spec.name} v{spec.version}"},
            }
        ],
        "entity": [{"role": "source", "what": {"reference": s}} for s in dict.fromkeys(sources)],
    }


def not_computed(spec: ModelSpec, problems: Sequence[Problem], patient_ref: str, now: datetime) -> dict[str, Any]:
    """OperationOutcome explaining why a model's suggestion was not computed (one issue per problem)."""
    return {
        "resourceType": "OperationOutcome",
        "id": stable_id("OperationOutcome", patient_ref, spec.name, instant(now)),
        "issue": [
            {
                "severity": "warning",
                "code": _ISSUE_CODE[p.kind],
                "details": {
                    "coding": [{"system": f"{CANONICAL}/CodeSystem/ai-input-problem", "code": p.kind}],
                    "text": f"{spec.name} v{spec.version} not computed: {p.reason}",
                },
                "expression": [p.feature],
            }
            for p in problems
        ],
    }


def _frame_component(index: int, probability: float) -> dict[str, Any]:
    return {
        "code": {"text": f"frame {index + 1}"},
        "valueQuantity": {"value": round(probability, 4), "unit": "probability", "system": UCUM, "code": "1"},
    }


def _pixel_handling(spec: ModelSpec, frames: int) -> str:
    """How the pixels were prepared (the visible basis of an image result)."""
    assert spec.image is not None
    window, size = spec.image.window, spec.image.size
    return (
        f"Modality LUT applied, window centre {window.center:g} / width {window.width:g}, "
        f"MONOCHROME1 inverted, resized to {size[0]}x{size[1]}; maximum over {frames} frame(s). "
        f"See models/{spec.name}/{spec.version}/card.md."
    )


def image_observation(
    spec: ModelSpec, patient_ref: str, study_ref: str, now: datetime, frame_probabilities: Sequence[float]
) -> dict[str, Any]:
    """AI-labelled Observation: maximum probability over frames, one component per frame."""
    return {
        "resourceType": "Observation",
        "id": stable_id("Observation", study_ref, spec.name, spec.version, instant(now)),
        "meta": {"security": [AIAST]},
        "status": "preliminary",
        "code": {"text": str(spec.outcome.get("text", spec.title))},
        "subject": {"reference": patient_ref},
        "effectiveDateTime": instant(now),
        "valueQuantity": {
            "value": round(max(frame_probabilities), 4),
            "unit": "probability",
            "system": UCUM,
            "code": "1",
        },
        "device": {"reference": urn(device(spec))},
        "derivedFrom": [{"reference": study_ref}],
        "component": [_frame_component(i, p) for i, p in enumerate(frame_probabilities)],
        "note": [{"text": _pixel_handling(spec, len(frame_probabilities))}],
    }


def imaging_report(
    spec: ModelSpec, patient_ref: str, study_ref: str, now: datetime, frame_probabilities: Sequence[float]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(DiagnosticReport, Observation) for an image model result (status preliminary, AI-labelled)."""
    observation = image_observation(spec, patient_ref, study_ref, now, frame_probabilities)
    report = {
        "resourceType": "DiagnosticReport",
        "id": stable_id("DiagnosticReport", str(observation["id"])),
        "meta": {"security": [AIAST]},
        "status": "preliminary",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0074", "code": "RAD"}]}],
        "code": {
            "coding": [{"system": "http://loinc.org", "code": "18748-4", "display": "Diagnostic imaging study"}],
            "text": spec.title,
        },
        "subject": {"reference": patient_ref},
        "effectiveDateTime": instant(now),
        "issued": instant(now),
        "imagingStudy": [{"reference": study_ref}],
        "result": [{"reference": urn(observation)}],
        "conclusion": f"{spec.title}: probability {max(frame_probabilities):.3f} (AI output, not reviewed).",
    }
    return report, observation


def bundle(resources: Sequence[Mapping[str, Any]], now: datetime, key: str) -> dict[str, Any]:
    """A ``collection`` Bundle; every entry's fullUrl is its ``urn:uuid:``."""
    return {
        "resourceType": "Bundle",
        "id": stable_id("Bundle", key, instant(now)),
        "type": "collection",
        "timestamp": instant(now),
        "entry": [{"fullUrl": urn(r), "resource": dict(r)} for r in resources],
    }


def operation_definition() -> dict[str, Any]:
    """OperationDefinition for ``Patient/[id]/$ai-suggest`` (https://hl7.org/fhir/R4/operationdefinition.html)."""
    return {
        "resourceType": "OperationDefinition",
        "id": "ai-suggest",
        "url": f"{CANONICAL}/OperationDefinition/ai-suggest",
        "version": "1",
        "name": "AiSuggest",
        "title": "AI-assisted diagnostic suggestions for a patient",
        "status": "active",
        "kind": "operation",
        "description": (
            "Runs every served risk model on the patient's compartment. Returns a collection Bundle of "
            "RiskAssessment (basis, per-input value/unit/date/contribution, AIAST security label), Provenance "
            "(model Device as author) and Device resources, plus one OperationOutcome per model that was not "
            "computed, saying which inputs were missing, stale, implausible or invalid."
        ),
        "code": "ai-suggest",
        "resource": ["Patient"],
        "system": False,
        "type": False,
        "instance": True,
        "parameter": [
            {
                "name": "return",
                "use": "out",
                "min": 1,
                "max": "1",
                "type": "Bundle",
                "documentation": "Bundle of type collection with the suggestions and the reasons for omissions",
            }
        ],
    }
