"""``ehr audit``: the audit log's commands (reports for data officers)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ehr.settings import DEFAULT_DATA_DIR

app = typer.Typer(help="The audit log: reports for data officers.", no_args_is_help=True)


@app.command()
def report(
    patient: Annotated[str | None, typer.Option(help="access report of one patient: Patient/ID")] = None,
    user: Annotated[str | None, typer.Option(help="activity of one user (agent id)")] = None,
    anomalies: Annotated[bool, typer.Option("--anomalies", help="anomalies of every user")] = False,
    since: Annotated[str | None, typer.Option(help="first day (YYYY-MM-DD) or ISO date-time")] = None,
    until: Annotated[str | None, typer.Option(help="last day, included (YYYY-MM-DD), or ISO date-time")] = None,
    format_: Annotated[str, typer.Option("--format", help="html, pdf or csv")] = "html",
    out: Annotated[Path | None, typer.Option(help="file to write; default: standard output")] = None,
    tenant: Annotated[str | None, typer.Option(help="only this hospital's users and patients")] = None,
    timezone: Annotated[str, typer.Option(envvar="EHR_AUDIT_TIMEZONE", help="IANA zone of local days")] = "UTC",
    office_hours: Annotated[str, typer.Option(envvar="EHR_AUDIT_OFFICE_HOURS",
                                              help="local office hours, HH:MM-HH:MM")] = "07:00-19:00",
    db: Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL; default: SQLite in --data-dir")] = None,
    data_dir: Annotated[Path, typer.Option("--data-dir", help="folder of the embedded database")] = DEFAULT_DATA_DIR,
) -> None:
    """Write the access report of a patient, the activity of a user, or the anomalies (HTML, PDF, CSV)."""
    from ehr.cli.audit_report import ReportOptions, run_report

    options = ReportOptions(patient=patient, user=user, anomalies=anomalies, since=since, until=until,
                            format=format_, out=out, tenant=tenant, timezone=timezone, office_hours=office_hours,
                            db=db, data_dir=data_dir)
    raise typer.Exit(run_report(options))
