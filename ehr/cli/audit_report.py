"""``ehr audit report``: a report from the audit log to a file or standard output."""

from __future__ import annotations

import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import typer

from ehr.audit.reports.anomalies import NoCareLinks
from ehr.audit.reports.build import Format, ReportRequest, build_document, export, parse_bound
from ehr.audit.reports.care_links import MpiCareLinks
from ehr.audit.reports.model import Period
from ehr.audit.reports.rules import AnomalyRules
from ehr.audit.reports.source import open_reader
from ehr.audit.rows import AuditReader
from ehr.errors import BadRequest
from ehr.settings import Settings, parse_office_hours


@dataclass(frozen=True, slots=True)
class ReportOptions:
    patient: str | None
    user: str | None
    anomalies: bool
    since: str | None
    until: str | None
    format: str
    out: Path | None
    tenant: str | None
    timezone: str
    office_hours: str
    db: str | None
    data_dir: Path


def run_report(options: ReportOptions, reader: AuditReader | None = None) -> int:
    """Write the report; 0 when written, 2 (with one line on standard error) when the options are wrong.
    ``reader``: the audit log to read; default: the one of ``--db``/``--data-dir``."""
    try:
        settings = Settings(db_url=options.db, data_dir=options.data_dir, audit_timezone=options.timezone,
                            audit_office_hours=parse_office_hours(options.office_hours))
        rules = AnomalyRules.from_settings(settings)
        fmt = Format(options.format)
        period = Period(parse_bound(options.since, rules.zone, end=False) if options.since else None,
                        parse_bound(options.until, rules.zone, end=True) if options.until else None)
        request = ReportRequest(period, patient=options.patient, agent=options.user, anomalies=options.anomalies,
                                tenant=options.tenant)
        if reader is not None:
            doc = build_document(reader, request, rules, NoCareLinks())
        else:
            log = open_reader(settings)
            try:
                doc = build_document(log, request, rules, MpiCareLinks(log.store))
            finally:
                log.store.close()
    except BadRequest as exc:
        typer.echo(f"ehr audit report: {exc.message}", err=True)
        return 2
    except ValueError as exc:
        typer.echo(f"ehr audit report: {_plain(exc, options.format)}", err=True)
        return 2
    body = export(doc, fmt, datetime.now(UTC))
    if options.out is None:
        sys.stdout.buffer.write(body)
        sys.stdout.buffer.flush()
    else:
        options.out.write_bytes(body)
        typer.echo(f"{doc.title}: {doc.records.total} {doc.records.title} written to {options.out}", err=True)
    return 0


def _plain(exc: ValueError, fmt: str) -> str:
    if fmt not in {f.value for f in Format}:
        return f"unknown format {fmt!r}; use html, pdf or csv"
    return str(exc)
