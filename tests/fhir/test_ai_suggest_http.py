"""``Patient/[id]/$ai-suggest`` over HTTP on a server with the models loaded: suggestions come with
their basis from the stored record, and a server without the models says so (503)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from ehr.cli.demo_admission import admission_bundle
from ehr.settings import Settings
from tests.conftest import LiveServer

MRN = "http://hospital-a.example.org/mrn"


@pytest.fixture
def models_server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(Settings(auth="dev", db_url=db_url, data_dir=tmp_path, inference=True)) as live:
        yield live


def _admitted_patient(http: httpx.Client, birth_date: str = "1950-04-02") -> str:
    patient = {"resourceType": "Patient", "identifier": [{"system": MRN, "value": "A-1"}],
               "gender": "male", "birthDate": birth_date}
    pid = str(http.post("/Patient", json=patient).json()["id"])
    bundle = admission_bundle(MRN, "A-1", datetime.now(UTC), acute_mi=True)
    assert http.post("", json=bundle).status_code == 200
    return pid


def test_suggestions_carry_their_basis(models_server: LiveServer) -> None:
    with httpx.Client(base_url=models_server.base, timeout=60) as http:
        pid = _admitted_patient(http)
        answer = http.get(f"/Patient/{pid}/$ai-suggest")
    assert answer.status_code == 200
    resources = [e["resource"] for e in answer.json()["entry"]]
    risks = {r["id"]: r for r in resources if r["resourceType"] == "RiskAssessment"}
    assert len(risks) == 2  # NEWS2 and post-MI mortality; breast-mass lacks its cytology inputs
    for risk in risks.values():
        assert risk["subject"]["reference"] == f"Patient/{pid}"
        assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue", "code": "AIAST",
                "display": "Artificial Intelligence asserted"} in risk["meta"]["security"]
        assert risk["basis"], "every suggestion lists the inputs it used"
        assert all(b["reference"].startswith("Observation/") or b["reference"].startswith("Condition/")
                   or b["reference"].startswith("Patient/") for b in risk["basis"])
    outcomes = [r for r in resources if r["resourceType"] == "OperationOutcome"]
    assert any("breast-mass-malignancy" in i["details"]["text"] for o in outcomes for i in o["issue"])
    assert {r["resourceType"] for r in resources} >= {"Provenance", "Device"}


def test_stale_record_is_refused_with_reasons(models_server: LiveServer) -> None:
    with httpx.Client(base_url=models_server.base, timeout=60) as http:
        pid = str(http.post("/Patient", json={"resourceType": "Patient", "gender": "female",
                                              "birthDate": "1960-01-01"}).json()["id"])
        answer = http.get(f"/Patient/{pid}/$ai-suggest").json()
    kinds = [e["resource"]["resourceType"] for e in answer["entry"]]
    assert "RiskAssessment" not in kinds
    assert kinds.count("OperationOutcome") == 3


def test_unknown_patient_is_404(models_server: LiveServer) -> None:
    with httpx.Client(base_url=models_server.base, timeout=60) as http:
        assert http.get("/Patient/does-not-exist/$ai-suggest").status_code == 404


def test_without_models_the_operation_is_unavailable(client: httpx.Client) -> None:
    pid = client.post("/Patient", json={"resourceType": "Patient", "gender": "male"}).json()["id"]
    answer = client.get(f"/Patient/{pid}/$ai-suggest")
    assert answer.status_code == 503
    assert answer.json()["resourceType"] == "OperationOutcome"


def test_kserve_routes_and_metrics(models_server: LiveServer) -> None:
    root = models_server.base.removesuffix("/fhir")
    with httpx.Client(base_url=root, timeout=60) as http:
        assert http.get("/v2/health/ready").json() == {"ready": True}
        metadata = http.get("/v2/models/news2").json()
        assert metadata["platform"] == "onnxruntime_onnx"
        assert "ai_model_ready" in http.get("/metrics").text or "ai_" in http.get("/metrics").text
