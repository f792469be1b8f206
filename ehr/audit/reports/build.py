"""What the CLI and the web page call: a :class:`ReportRequest` and an
:class:`~ehr.audit.rows.AuditReader` in, a :class:`~ehr.audit.reports.document.Document` out, then
exported as HTML, PDF or CSV."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from enum import StrEnum

from ehr.audit.reports.anomalies import CareLinks, detect_anomalies
from ehr.audit.reports.csv_out import render_csv
from ehr.audit.reports.document import Document, anomaly_document, patient_document, user_document
from ehr.audit.reports.html import Form, render_html
from ehr.audit.reports.model import Period, patient_access, user_activity
from ehr.audit.reports.pdf import render_pdf
from ehr.audit.reports.rules import AnomalyRules
from ehr.audit.rows import AuditReader, AuditRow
from ehr.errors import BadRequest

_PATIENT = re.compile(r"Patient/[A-Za-z0-9.-]{1,64}")


class Format(StrEnum):
    HTML = "html"
    PDF = "pdf"
    CSV = "csv"


MEDIA_TYPES = {Format.HTML: "text/html; charset=utf-8", Format.PDF: "application/pdf",
               Format.CSV: "text/csv; charset=utf-8"}


@dataclass(frozen=True, slots=True)
class ReportRequest:
    """Exactly one of ``patient``, ``agent`` and ``anomalies``. ``tenant``: only entries by that hospital's
    users or on its patients (a data officer sees their own hospital); None: every hospital."""

    period: Period
    patient: str | None = None
    agent: str | None = None
    anomalies: bool = False
    tenant: str | None = None


def build_document(reader: AuditReader, request: ReportRequest, rules: AnomalyRules, links: CareLinks) -> Document:
    chosen = [request.patient is not None, request.agent is not None, request.anomalies]
    if sum(chosen) != 1:
        raise BadRequest("Ask for exactly one report: a patient (Patient/ID), a user, or the anomalies.")
    period = request.period
    if request.patient is not None:
        if not _PATIENT.fullmatch(request.patient):
            raise BadRequest(f"{request.patient!r} is not a patient reference; write it as Patient/ID.")
        rows = _scoped(reader.rows(patient=request.patient, since=period.since, until=period.until), request.tenant)
        return patient_document(patient_access(rows, request.patient, period, rules.zone), rules.zone)
    if request.agent is not None:
        rows = _scoped(reader.rows(agent=request.agent, since=period.since, until=period.until), request.tenant)
        return user_document(user_activity(rows, request.agent, period, rules.zone), rules.zone)
    since = period.since - timedelta(days=rules.baseline_days) if period.since is not None else None
    rows = _scoped(reader.rows(since=since, until=period.until), request.tenant)
    found = detect_anomalies(rows, period, rules, links)
    return anomaly_document(found, period, rules.zone, describe_rules(rules))


def export(doc: Document, fmt: Format, generated: datetime, *, form: Form | None = None,
           downloads: Sequence[tuple[str, str]] = ()) -> bytes:
    if fmt is Format.HTML:
        return render_html(doc, generated, form=form, downloads=downloads).encode()
    if fmt is Format.PDF:
        return render_pdf(doc, generated)
    return render_csv(doc).encode()


def parse_bound(text: str, zone: tzinfo, *, end: bool) -> datetime:
    """A period bound: a day (``2024-05-01``; as ``end`` the whole day is included) in ``zone``, or an ISO
    8601 date-time (without an offset: in ``zone``)."""
    try:
        if len(text) == 10:
            day = date.fromisoformat(text) + timedelta(days=1 if end else 0)
            return datetime.combine(day, time(0), zone)
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{text!r} is not a date; write YYYY-MM-DD or an ISO 8601 date-time.") from None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)


def describe_rules(rules: AnomalyRules) -> str:
    minutes = rules.denied_window.total_seconds() / 60
    return (f"office hours {rules.describe_hours()}; unusual volume above median + {rules.volume_k:g}"
            f" · max(1.4826 · MAD, 1) and at least {rules.volume_min_patients} patients a day"
            f" (baseline {rules.baseline_days} days); {rules.denied_burst} denied attempts within {minutes:g}"
            " minutes; another hospital's patient without a care link; every break-glass")


def _scoped(rows: Iterable[AuditRow], tenant: str | None) -> list[AuditRow]:
    return [r for r in rows if tenant is None or r.tenant == tenant or r.patient_tenant == tenant]
