"""Patient -> PatientRecord: golden examples (tests/golden/mpi/) and the normalisation rules."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from ehr.mpi.features import PatientRecord, is_placeholder, normalise_name, normalise_phone, patient_features

GOLDEN = Path(__file__).parents[1] / "golden" / "mpi"


def _cases() -> list[tuple[dict[str, object], dict[str, object]]]:
    inputs = json.loads((GOLDEN / "patients.json").read_text(encoding="utf-8"))
    expected = json.loads((GOLDEN / "records.json").read_text(encoding="utf-8"))
    return list(zip(inputs, expected, strict=True))


@pytest.mark.parametrize(("case", "expected"), _cases(), ids=lambda c: str(c.get("patient", c).get("id", "")))
def test_golden_patient_features(case: dict[str, object], expected: dict[str, object]) -> None:
    record = patient_features(case["patient"], str(case["tenant"]))  # type: ignore[arg-type]
    got = dataclasses.asdict(record)
    got["previous_families"] = list(got["previous_families"])
    assert got == expected


def test_current_name_prefers_official_and_collects_previous_names() -> None:
    record = patient_features(json.loads((GOLDEN / "patients.json").read_text())[1]["patient"], "hospital-b")
    assert (record.given, record.middle, record.family) == ("arianna", "rose", "brekke")
    assert record.previous_families == ("streich", "oldname")


@pytest.mark.parametrize(("given", "family", "birth"), [
    ("john", "doe", "1980-01-01"), ("jane", "doe", "1980-01-01"), ("unknown", "smith", "1980-01-01"),
    ("mary", "smith", None), ("mary", "smith", "1900-01-01"), ("mary", None, "1980-01-01"),
])
def test_placeholders(given: str | None, family: str | None, birth: str | None) -> None:
    assert is_placeholder(PatientRecord("t", given=given, family=family, birth_date=birth))


def test_real_identity_is_not_placeholder() -> None:
    assert not is_placeholder(PatientRecord("t", given="john", family="dodd", birth_date="1980-01-01"))


def test_normalisation() -> None:
    assert normalise_name("  Ángel  O'Brien-Smith ") == "angelobriensmith"
    assert normalise_name("---") is None
    assert normalise_phone("+1 (617) 555-0199") == "6175550199"
    assert normalise_phone("12") is None
