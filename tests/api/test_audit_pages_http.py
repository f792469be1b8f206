"""The ``/audit`` pages over HTTP: data officers only, their hospital only, HTML with the picker, CSV and
PDF downloads."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator

import httpx
import pytest
from pypdf import PdfReader

from tests.api.conftest import OFFICER, root
from tests.conftest import LiveServer


@pytest.fixture
def http(audit_server: LiveServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=root(audit_server), timeout=60) as client:
        yield client


@pytest.mark.parametrize("headers", [{}, {"X-Roles": "clinician"}, {"X-Roles": "data-officers,admin"},
                                     {"X-Roles": "", "X-Tenant": "hospital-a"}])
@pytest.mark.parametrize("path", ["/audit", "/audit/anomalies", "/audit/report?patient=Patient/a003",
                                  "/audit/report?user=nurse-a3&format=csv"])
def test_everyone_but_data_officers_gets_403_with_an_operation_outcome(http: httpx.Client, path: str,
                                                                       headers: dict[str, str]) -> None:
    response = http.get(path, headers=headers)
    assert response.status_code == 403
    outcome = response.json()
    assert outcome["resourceType"] == "OperationOutcome"
    assert outcome["issue"][0]["code"] == "forbidden"
    assert "data-officer" in outcome["issue"][0]["diagnostics"]
    assert "Patient/a0" not in response.text


def test_patient_report_page_has_the_picker_tables_and_charts(http: httpx.Client) -> None:
    response = http.get("/audit/report", params={"patient": "Patient/a003", "since": "2024-05-01"}, headers=OFFICER)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["cache-control"] == "no-store"
    page = response.text
    assert '<form class="pick"' in page
    assert 'value="Patient/a003"' in page
    assert "<h2>Who accessed the record</h2>" in page
    assert page.count("<svg ") == 2
    assert "clinician-b2" in page  # hospital-b's user on hospital-a's patient is in the accounting
    assert "/audit/report?patient=Patient%2Fa003&amp;since=2024-05-01&amp;format=csv" in page


def test_csv_and_pdf_downloads(http: httpx.Client) -> None:
    response = http.get("/audit/report", params={"user": "nurse-b3", "format": "csv"}, headers=OFFICER)
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="audit-nurse-b3.csv"'
    rows = list(csv.DictReader(io.StringIO(response.text)))
    # hospital-a's officer sees nurse-b3 only where they touched hospital-a's patients: never here
    assert rows == []
    pdf = http.get("/audit/anomalies", params={"since": "2024-05-30", "format": "pdf"}, headers=OFFICER)
    assert pdf.status_code == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert len(PdfReader(io.BytesIO(pdf.content)).pages) >= 1


def test_anomalies_are_those_of_the_officers_hospital(http: httpx.Client) -> None:
    response = http.get("/audit/anomalies", params={"since": "2024-05-30", "format": "csv"}, headers=OFFICER)
    kinds = sorted(r["kind"] for r in csv.DictReader(io.StringIO(response.text)))
    assert kinds == ["after-hours", "break-glass", "denied-burst", "other-hospital"]
    other = http.get("/audit/anomalies", params={"since": "2024-05-30", "format": "csv"},
                     headers={**OFFICER, "X-Tenant": "hospital-c"})
    assert [r["kind"] for r in csv.DictReader(io.StringIO(other.text))] == ["unusual-volume"]


def test_an_empty_picker_goes_to_the_anomalies(http: httpx.Client) -> None:
    response = http.get("/audit/report", params={"patient": "", "user": "", "since": "2024-05-20"}, headers=OFFICER,
                        follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/audit/anomalies?since=2024-05-20"


@pytest.mark.parametrize(("params", "message"), [
    ({"patient": "Patient/a003", "user": "nurse-a3"}, "not both"),
    ({"patient": "a003"}, "Patient/ID"),
    ({"patient": "Patient/a003", "since": "May"}, "YYYY-MM-DD"),
    ({"patient": "Patient/a003", "format": "docx"}, "format"),
])
def test_bad_requests_say_what_to_do(http: httpx.Client, params: dict[str, str], message: str) -> None:
    response = http.get("/audit/report", params=params, headers=OFFICER)
    assert response.status_code == 400
    assert message in response.json()["issue"][0]["diagnostics"]
