"""FHIR R4 record builders shared by the inference tests."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
NOW = datetime(2025, 1, 10, 12, 0, tzinfo=UTC)
LOINC, SCT, ICD10, UCUM = (
    "http://loinc.org",
    "http://snomed.info/sct",
    "http://hl7.org/fhir/sid/icd-10",
    "http://unitsofmeasure.org",
)
RECENT = "2025-01-10T10:00:00+00:00"


def observation(
    rid: str,
    code: str,
    value: float,
    unit: str,
    when: str = RECENT,
    system: str = LOINC,
    status: str = "final",
) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": status,
        "code": {"coding": [{"system": system, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": when,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def coded_observation(rid: str, code: str, answer: str, when: str = RECENT) -> dict[str, Any]:
    return {
        "resourceType": "Observation",
        "id": rid,
        "status": "final",
        "code": {"coding": [{"system": SCT, "code": code}]},
        "subject": {"reference": "Patient/p1"},
        "effectiveDateTime": when,
        "valueCodeableConcept": {"coding": [{"system": SCT, "code": answer}]},
    }


def condition(
    rid: str, system: str, code: str, verification: str | None = None, onset: str | None = None
) -> dict[str, Any]:
    cond: dict[str, Any] = {
        "resourceType": "Condition",
        "id": rid,
        "subject": {"reference": "Patient/p1"},
        "code": {"coding": [{"system": system, "code": code}]},
    }
    if onset:
        cond["onsetDateTime"] = onset
    if verification:
        cond["verificationStatus"] = {
            "coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-ver-status", "code": verification}]
        }
    return cond


def patient(gender: str = "female", birth: str = "1950-03-02") -> dict[str, Any]:
    return {"resourceType": "Patient", "id": "p1", "gender": gender, "birthDate": birth}


def news2_vitals(
    rr: float = 16,
    spo2: float = 97,
    fio2: float = 21,
    sbp: float = 120,
    pulse: float = 70,
    answer: str = "248234008",
    temp: float = 37.0,
    when: str = RECENT,
) -> list[dict[str, Any]]:
    return [
        observation("rr", "9279-1", rr, "/min", when),
        observation("spo2", "59408-5", spo2, "%", when),
        observation("fio2", "3150-0", fio2, "%", when),
        observation("sbp", "8480-6", sbp, "mm[Hg]", when),
        observation("hr", "8867-4", pulse, "/min", when),
        coded_observation("avpu", "1104441000000107", answer, when),
        observation("temp", "8310-5", temp, "Cel", when),
    ]


def post_mi_record() -> list[dict[str, Any]]:
    return [
        observation("hr", "8867-4", 98, "/min"),
        observation("sbp", "8480-6", 135, "mm[Hg]"),
        observation("dbp", "8462-4", 80, "mm[Hg]"),
        observation("bmi", "39156-5", 27, "kg/m2"),
        condition("mi", ICD10, "I21.4", onset="2025-01-08T22:00:00+00:00"),
        condition("af", SCT, "49436004"),
    ]


def by_type(bundle: dict[str, Any], resource_type: str) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle["entry"] if e["resource"]["resourceType"] == resource_type]
