"""The reports read the real tamper-evident log: what a server recorded over HTTP shows up in
``ehr audit report`` (read from the database) and on the ``/audit`` page, on both engines."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import httpx

from ehr.cli.audit_report import ReportOptions, run_report
from ehr.settings import Settings
from tests.conftest import LiveServer

FHIR = {"Content-Type": "application/fhir+json", "X-Tenant": "hospital-a", "X-User": "nurse-7"}


def test_what_the_server_logged_is_in_the_cli_report_and_on_the_page(db_url: str, tmp_path: Path) -> None:
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path)
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=FHIR, timeout=60) as http:
        pid = http.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Logged"}]}).json()["id"]
        assert http.get(f"/Patient/{pid}").status_code == 200
        doctor = {"X-User": "doctor-2", "X-Purpose-Of-Use": "TREAT"}
        assert http.get(f"/Patient/{pid}", headers=doctor).status_code == 200
        page = httpx.get(f"{live.base.removesuffix('/fhir')}/audit/report",
                         params={"patient": f"Patient/{pid}", "format": "csv"},
                         headers={"X-Roles": "data-officer", "X-Tenant": "hospital-a"}, timeout=60)
        assert page.status_code == 200
        on_page = list(csv.DictReader(io.StringIO(page.text)))
    out = tmp_path / "report.csv"
    options = ReportOptions(patient=f"Patient/{pid}", user=None, anomalies=False, since=None, until=None,
                            format="csv", out=out, tenant=None, timezone="UTC", office_hours="00:00-23:59",
                            db=db_url, data_dir=tmp_path)
    assert run_report(options) == 0
    rows = list(csv.DictReader(io.StringIO(out.read_text())))
    assert rows == on_page
    assert {(r["interaction"], r["agent"]) for r in rows} >= {("create", "nurse-7"), ("read", "nurse-7"),
                                                               ("read", "doctor-2")}
    assert "Logged" not in out.read_text()  # references and user ids only, never names
