"""DICOM files in ``ehr import`` (https://hl7.org/fhir/R4/imagingstudy.html).

Per file, in one unit of work with its ledger entry: the Patient (matched by the DICOM Patient ID as
identifier, created when unknown), the ImagingStudy (matched by Study Instance UID; a new instance is
merged into it), the instance itself as a Binary (``application/dicom``, its ``securityContext`` the
study) — stored like every payload through the encryption boundary — and, when the models are loaded,
the imaging model's DiagnosticReport, Observation, Provenance and Device.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Protocol
from urllib.parse import urlencode

from pydicom import Dataset

from ehr.fhir.interactions import create, update
from ehr.fhir.interactions.conditional import single_match
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.references import rewrite_references
from ehr.fhir.interactions.writes import body_dict
from ehr.store.protocol import Tx
from ehr.store.records import VersionRecord

DICOM_SUFFIXES = (".dcm", ".dicom")


class ImageAssessor(Protocol):
    def assess_image(self, patient: dict[str, Any], study_ref: str, ds: Dataset, now: datetime) -> dict[str, Any]: ...


def dicom_work(ctx: Context, services: Services, raw: bytes,
               assessor: ImageAssessor | None) -> tuple[Callable[[Tx], Result], list[str]]:
    """The unit of work importing one DICOM file, and a list it fills with notes for the report."""
    from inference.dicom import patient_from_dataset, read_dataset

    ds = read_dataset(raw)
    notes: list[str] = []

    def work(tx: Tx) -> Result:
        patient = _patient(ctx, services, tx, patient_from_dataset(ds))
        study = _study(ctx, services, tx, ds, f"Patient/{patient['id']}")
        binary = {"resourceType": "Binary", "contentType": "application/dicom",
                  "securityContext": {"reference": f"ImagingStudy/{study.id}"},
                  "data": base64.b64encode(raw).decode("ascii")}
        create.create(ctx, services, tx, "Binary", binary)
        if assessor is not None:
            notes.append(_assess(ctx, services, tx, assessor, patient, f"ImagingStudy/{study.id}", ds))
        return Result(200)

    return work, notes


def _patient(ctx: Context, services: Services, tx: Tx, patient: dict[str, Any]) -> dict[str, Any]:
    identifier = (patient.get("identifier") or [None])[0]
    found = None
    if identifier is not None:
        criteria = urlencode({"identifier": f"{identifier['system']}|{identifier['value']}"})
        found = single_match(ctx, services, tx, "Patient", criteria)
    record = found or create.create(ctx, services, tx, "Patient", patient).record
    assert record is not None
    return body_dict(record)


def _study(ctx: Context, services: Services, tx: Tx, ds: Dataset, patient_ref: str) -> VersionRecord:
    from inference.dicom import merge_study, study_from_dataset

    study = study_from_dataset(ds, patient_ref)
    identifier = study["identifier"][0]
    criteria = urlencode({"identifier": f"{identifier['system']}|{identifier['value']}"})
    existing = single_match(ctx, services, tx, "ImagingStudy", criteria)
    if existing is None:
        result = create.create(ctx, services, tx, "ImagingStudy", study)
    else:
        merged = {**merge_study(body_dict(existing), study), "id": existing.id}
        result = update.update(ctx, services, tx, "ImagingStudy", existing.id, merged)
    assert result.record is not None
    return result.record


def _assess(ctx: Context, services: Services, tx: Tx, assessor: ImageAssessor, patient: dict[str, Any],
            study_ref: str, ds: Dataset) -> str:
    """Run the imaging model and store what it found; returns a note for the import report."""
    bundle = assessor.assess_image(patient, study_ref, ds, datetime.now(UTC))
    resources = [e["resource"] for e in bundle.get("entry", [])]
    outcome = [r for r in resources if r["resourceType"] == "OperationOutcome"]
    if outcome:
        return "image model: " + str(outcome[0]["issue"][0].get("details", {}).get("text", "not computed"))
    urls = {e["fullUrl"]: f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle["entry"]}
    for resource in resources:
        rewrite_references(resource, urls.get)
        update.update(ctx, services, tx, resource["resourceType"], resource["id"], resource)
    return "image model: " + ", ".join(r["resourceType"] for r in resources)
