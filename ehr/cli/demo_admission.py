"""A current admission for the demo: one patient per hospital is being seen today, so the AI
suggestions (which refuse stale inputs) have a present-day record to work on.

The admission is a transaction Bundle that refers to the patient by its hospital MRN (a conditional
reference), with an Encounter and vital signs taken an hour before the demo was loaded; for the first
hospital's patient also an acute myocardial infarction two days ago. Codes: LOINC vital signs, SNOMED CT
for the ACVPU level and the diagnosis, UCUM units.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

UCUM = "http://unitsofmeasure.org"
LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
VITALS = (  # (LOINC code, display, value, UCUM code)
    ("9279-1", "Respiratory rate", 22, "/min"),
    ("59408-5", "Oxygen saturation in Arterial blood by Pulse oximetry", 94, "%"),
    ("3151-8", "Inhaled oxygen flow rate", 0, "L/min"),
    ("8480-6", "Systolic blood pressure", 105, "mm[Hg]"),
    ("8462-4", "Diastolic blood pressure", 68, "mm[Hg]"),
    ("8867-4", "Heart rate", 104, "/min"),
    ("8310-5", "Body temperature", 38.2, "Cel"),
    ("39156-5", "Body mass index (BMI) [Ratio]", 27.4, "kg/m2"),
)


def admission_bundle(mrn_system: str, mrn: str, now: datetime, *, acute_mi: bool) -> dict[str, Any]:
    patient = f"Patient?identifier={mrn_system}|{mrn}"
    taken = (now - timedelta(hours=1)).astimezone(UTC).isoformat(timespec="seconds")
    encounter_url = f"urn:uuid:{uuid.uuid4()}"
    entries = [_entry(encounter_url, {
        "resourceType": "Encounter", "status": "in-progress",
        "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "EMER"},
        "subject": {"reference": patient}, "period": {"start": taken},
    })]
    entries += [_entry(f"urn:uuid:{uuid.uuid4()}", _vital(code, display, value, unit, patient, encounter_url, taken))
                for code, display, value, unit in VITALS]
    entries.append(_entry(f"urn:uuid:{uuid.uuid4()}", _acvpu(patient, encounter_url, taken)))
    if acute_mi:
        onset = (now - timedelta(days=2)).astimezone(UTC).isoformat(timespec="seconds")
        entries.append(_entry(f"urn:uuid:{uuid.uuid4()}", {
            "resourceType": "Condition",
            "clinicalStatus": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                           "code": "active"}]},
            "code": {"coding": [{"system": SNOMED, "code": "22298006", "display": "Myocardial infarction"}]},
            "subject": {"reference": patient}, "encounter": {"reference": encounter_url},
            "onsetDateTime": onset, "recordedDate": onset,
        }))
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _vital(code: str, display: str, value: float, unit: str, patient: str, encounter: str,
           taken: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "status": "final",
        "category": [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/observation-category",
                                  "code": "vital-signs"}]}],
        "code": {"coding": [{"system": LOINC, "code": code, "display": display}]},
        "subject": {"reference": patient}, "encounter": {"reference": encounter},
        "effectiveDateTime": taken,
        "valueQuantity": {"value": value, "unit": unit, "system": UCUM, "code": unit},
    }


def _acvpu(patient: str, encounter: str, taken: str) -> dict[str, Any]:
    return {
        "resourceType": "Observation", "status": "final",
        "code": {"coding": [{"system": SNOMED, "code": "1104441000000107", "display": "ACVPU scale score"}]},
        "subject": {"reference": patient}, "encounter": {"reference": encounter}, "effectiveDateTime": taken,
        "valueCodeableConcept": {"coding": [{"system": SNOMED, "code": "248234008", "display": "Mentally alert"}]},
    }


def _entry(full_url: str, resource: dict[str, Any]) -> dict[str, Any]:
    return {"fullUrl": full_url, "resource": resource,
            "request": {"method": "POST", "url": resource["resourceType"]}}
