"""``ehr audit report``: the command line over a given audit log, and its refusals."""

from __future__ import annotations

import csv
import io
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ehr.audit.reports.memory import MemoryAuditReader
from ehr.audit.reports.synthetic import generate_rows
from ehr.cli.audit_report import ReportOptions, run_report
from ehr.cli.main import app

READER = MemoryAuditReader(generate_rows(date(2024, 5, 1), 30))


def _options(tmp_path: Path, **overrides: object) -> ReportOptions:
    values: dict[str, object] = {
        "patient": None, "user": None, "anomalies": False, "since": None, "until": None, "format": "html",
        "out": tmp_path / "report.out", "tenant": None, "timezone": "UTC", "office_hours": "07:00-19:00",
        "db": None, "data_dir": tmp_path}
    values.update(overrides)
    return ReportOptions(**values)  # type: ignore[arg-type]


def test_patient_report_as_csv_over_a_period(tmp_path: Path) -> None:
    options = _options(tmp_path, patient="Patient/a003", since="2024-05-10", until="2024-05-30", format="csv")
    assert run_report(options, READER) == 0
    rows = list(csv.DictReader(io.StringIO((tmp_path / "report.out").read_text())))
    expected = [r for r in READER.rows(patient="Patient/a003") if date(2024, 5, 10) <= r.recorded.date()]
    assert [int(r["seq"]) for r in rows] == [r.seq for r in expected]
    assert rows
    assert all("2024-05-10" <= r["recorded"][:10] <= "2024-05-30" for r in rows)


def test_anomalies_as_pdf_in_another_zone(tmp_path: Path) -> None:
    options = _options(tmp_path, anomalies=True, since="2024-05-30", format="pdf", timezone="Asia/Tokyo",
                       office_hours="08:00-18:00")
    assert run_report(options, READER) == 0
    assert (tmp_path / "report.out").read_bytes().startswith(b"%PDF-")


def test_user_activity_as_html(tmp_path: Path) -> None:
    assert run_report(_options(tmp_path, user="nurse-b3"), READER) == 0
    page = (tmp_path / "report.out").read_text()
    assert "<h1>Activity of nurse-b3</h1>" in page
    assert "Entries per patient" in page


@pytest.mark.parametrize(("overrides", "message"), [
    ({}, "exactly one report"),
    ({"patient": "Patient/1", "user": "x"}, "exactly one report"),
    ({"patient": "Patient/1", "format": "docx"}, "use html, pdf or csv"),
    ({"patient": "Patient/1", "since": "last week"}, "YYYY-MM-DD"),
    ({"anomalies": True, "timezone": "Moon/Base"}, "IANA"),
    ({"anomalies": True, "office_hours": "19:00-07:00"}, "HH:MM-HH:MM"),
])
def test_wrong_options_exit_2_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                            overrides: dict[str, object], message: str) -> None:
    assert run_report(_options(tmp_path, **overrides), READER) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert not (tmp_path / "report.out").exists()


def test_the_command_writes_to_standard_output(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "report", "--anomalies", "--format", "csv",
                                      "--data-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith("kind,tenant,agent,patient")
    refused = CliRunner().invoke(app, ["audit", "report", "--data-dir", str(tmp_path)])
    assert refused.exit_code == 2
    assert "exactly one report" in refused.stderr
