"""The exports: CSV columns and rows, a PDF that opens with its pages, an HTML page with its tables and
charts; the same document behind all three."""

from __future__ import annotations

import csv
import io
import re
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from ehr.audit.reports.anomalies import NoCareLinks
from ehr.audit.reports.build import Format, ReportRequest, build_document, export, parse_bound
from ehr.audit.reports.document import ANOMALY_COLUMNS, ENTRY_COLUMNS, SHOWN_ROWS, Document
from ehr.audit.reports.memory import MemoryAuditReader
from ehr.audit.reports.model import Period
from ehr.audit.reports.rules import AnomalyRules
from ehr.audit.reports.synthetic import generate_rows
from ehr.errors import BadRequest
from tests.audit.reports.support import at, row

GENERATED = datetime(2024, 6, 1, 12, tzinfo=UTC)
READER = MemoryAuditReader(generate_rows(date(2024, 5, 1), 30))
RULES = AnomalyRules()


def _doc(**wanted: object) -> Document:
    period = wanted.pop("period", Period())
    assert isinstance(period, Period)
    return build_document(READER, ReportRequest(period, **wanted), RULES, NoCareLinks())  # type: ignore[arg-type]


def _csv(doc: Document) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(export(doc, Format.CSV, GENERATED).decode())))


def test_patient_csv_has_one_row_per_entry_with_every_column() -> None:
    text = export(_doc(patient="Patient/a003"), Format.CSV, GENERATED).decode()
    assert text.splitlines()[0] == ",".join(ENTRY_COLUMNS)
    rows = _csv(_doc(patient="Patient/a003"))
    expected = [r for r in READER.rows(patient="Patient/a003")]
    assert [int(r["seq"]) for r in rows] == [r.seq for r in expected]
    other = next(r for r in rows if r["tenant"] == "hospital-b")
    assert other["patient_tenant"] == "hospital-a"
    assert other["recorded"].endswith("+00:00")


def test_anomaly_csv_has_one_row_per_anomaly() -> None:
    doc = _doc(anomalies=True, period=Period(at(0, 0).replace(month=5, day=30)))
    rows = _csv(doc)
    assert list(rows[0]) == list(ANOMALY_COLUMNS)
    assert sorted(r["kind"] for r in rows) == ["after-hours", "after-hours", "break-glass", "denied-burst",
                                               "other-hospital", "unusual-volume"]
    assert all(r["reason"] and r["seqs"] for r in rows)


def test_csv_neutralises_cells_a_spreadsheet_would_run() -> None:
    doc = build_document(MemoryAuditReader([row(at(0, 9), agent="=HYPERLINK(1)")]),
                         ReportRequest(Period(), agent="=HYPERLINK(1)"), RULES, NoCareLinks())
    assert _csv(doc)[0]["agent"] == "'=HYPERLINK(1)"


def test_pdf_opens_with_pages_tables_and_chart_images(tmp_path: Path) -> None:
    body = export(_doc(agent="nurse-a3"), Format.PDF, GENERATED)
    assert body.startswith(b"%PDF-")
    pdf = PdfReader(io.BytesIO(body))
    assert len(pdf.pages) >= 2
    text = "\n".join(page.extract_text() for page in pdf.pages)
    assert "Activity of nurse-a3" in text
    assert "Entries per patient" in text
    assert "Patient/a0" in text
    assert sum(len(page.images) for page in pdf.pages) == 3  # the three charts
    if shutil.which("pdftotext"):
        (tmp_path / "r.pdf").write_bytes(body)
        out = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, check=True, text=True)
        assert "Entries per day" in out.stdout


def test_pdf_of_an_empty_report_still_opens() -> None:
    body = export(_doc(patient="Patient/none"), Format.PDF, GENERATED)
    pdf = PdfReader(io.BytesIO(body))
    assert len(pdf.pages) == 1
    assert "Nothing in this period." in pdf.pages[0].extract_text()


def test_html_has_the_tables_and_inline_svg_charts_and_no_outside_resources() -> None:
    page = export(_doc(patient="Patient/a003"), Format.HTML, GENERATED).decode()
    assert "<h1>Access report for Patient/a003</h1>" in page
    assert "<h2>Who accessed the record</h2>" in page
    assert "<h2>Entries per user</h2>" in page
    assert page.count("<svg ") == 2
    assert 'aria-label="Accesses per day"' in page
    assert "clinician-b2" in page
    assert "hospital-b" in page
    assert "<metadata>" not in page
    assert "<script" not in page
    assert not re.search(r'(src|href)="(https?:)?//|url\((https?:)?//|@import', page)


def test_html_escapes_what_callers_sent() -> None:
    doc = build_document(MemoryAuditReader([row(at(0, 9), agent="<b>x</b>")]),
                         ReportRequest(Period(), agent="<b>x</b>"), RULES, NoCareLinks())
    page = export(doc, Format.HTML, GENERATED).decode()
    assert "<b>x</b>" not in page
    assert "&lt;b&gt;x&lt;/b&gt;" in page


def test_long_tables_are_cut_on_the_page_but_not_in_the_csv() -> None:
    rows = [row(at(0, 9) if n % 2 else at(1, 9), "clerk-a4", f"Patient/a{n}") for n in range(SHOWN_ROWS + 20)]
    doc = build_document(MemoryAuditReader(rows), ReportRequest(Period(), agent="clerk-a4"), RULES, NoCareLinks())
    assert len(doc.tables[0].rows) == SHOWN_ROWS
    assert doc.tables[0].total == SHOWN_ROWS + 20
    assert len(_csv(doc)) == SHOWN_ROWS + 20
    assert f"The first {SHOWN_ROWS} of {SHOWN_ROWS + 20} rows" in export(doc, Format.HTML, GENERATED).decode()


def test_a_data_officer_sees_their_hospitals_users_and_patients_only() -> None:
    doc = _doc(patient="Patient/a003", tenant="hospital-c")
    assert doc.records.rows == ()
    mine = _doc(anomalies=True, tenant="hospital-a", period=Period(at(0, 0).replace(month=5, day=30)))
    assert {r[0] for r in mine.records.rows} == {"after-hours", "break-glass", "denied-burst", "other-hospital"}


@pytest.mark.parametrize("wanted", [{}, {"patient": "Patient/1", "anomalies": True}, {"patient": "Observation/1"}])
def test_a_request_must_name_one_report(wanted: dict[str, object]) -> None:
    with pytest.raises(BadRequest):
        _doc(**wanted)


def test_period_bounds_are_local_days_with_the_last_day_included() -> None:
    berlin = ZoneInfo("Europe/Berlin")
    assert parse_bound("2024-05-06", berlin, end=False) == datetime(2024, 5, 5, 22, tzinfo=UTC)
    assert parse_bound("2024-05-06", berlin, end=True) == datetime(2024, 5, 6, 22, tzinfo=UTC)
    assert parse_bound("2024-05-06T10:00:00+00:00", berlin, end=True) == datetime(2024, 5, 6, 10, tzinfo=UTC)
    with pytest.raises(BadRequest, match="YYYY-MM-DD"):
        parse_bound("yesterday", berlin, end=False)
