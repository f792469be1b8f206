"""``ehr audit``: verify the tamper-evident log, sign and export checkpoints, export the log, and write
reports for data officers (``report``).

``verify`` exits 0 with a one-line summary when the log is intact, 1 with a line per problem (its
seq and what happened) when it is not, and 2 when it cannot run (no signing key, unreadable file).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ehr.settings import DEFAULT_DATA_DIR, Settings

if TYPE_CHECKING:
    from ehr.audit.checkpoints import Signer
    from ehr.audit.log import SqlAuditLog

app = typer.Typer(help="The tamper-evident audit log: verification, checkpoints, exports and reports.",
                  no_args_is_help=True, add_completion=False)

DbOption = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL; default: SQLite in --data-dir")]
DataDirOption = Annotated[Path, typer.Option("--data-dir", help="folder with the database and keys/")]
MAX_LINES = 50


@app.command()
def verify(
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    checkpoints: Annotated[Path | None, typer.Option(help="exported checkpoints (JSON lines) to check too")] = None,
    log: Annotated[Path | None, typer.Option(help="verify an exported log file instead of the database")] = None,
) -> None:
    """Recompute the hash chain and check every signed checkpoint; say where and what if tampered."""
    from ehr.audit import checkpoints as cps
    from ehr.audit.export import LogFormatError, read_rows
    from ehr.audit.verify import verify as run_verify

    signer = _existing_signer(data_dir)
    try:
        found = list(cps.read_lines(checkpoints)) if checkpoints is not None else []
        if log is not None:
            report = run_verify(read_rows(log), found, signer.public)
        else:
            audit_log = _open_log(Settings(db_url=db, data_dir=data_dir))
            try:
                report = audit_log.verify(found)
            finally:
                audit_log.store.close()
    except (OSError, cps.CheckpointFormatError, LogFormatError) as exc:
        typer.echo(f"ehr audit verify: {exc}", err=True)
        raise typer.Exit(2) from None
    lines = report.lines()
    if len(lines) > MAX_LINES + 1:
        lines = [*lines[:MAX_LINES], f"... and {len(lines) - MAX_LINES - 1} more problem(s)", lines[-1]]
    typer.echo("\n".join(lines))
    raise typer.Exit(0 if report.intact else 1)


@app.command()
def checkpoint(
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    export: Annotated[Path | None, typer.Option(help="write every checkpoint to this file (JSON lines)")] = None,
) -> None:
    """Sign a checkpoint of the log as it is now; with --export, copy all checkpoints out of the database."""
    from ehr.audit.checkpoints import export_lines

    audit_log = _open_log(Settings(db_url=db, data_dir=data_dir))
    try:
        made = audit_log.checkpoint()
        every = audit_log.checkpoints()
    finally:
        audit_log.store.close()
    typer.echo(f"checkpoint: size {made.size}, head {made.head.hex()}" if made else "the log is empty")
    if export is not None:
        _write_atomically(export, export_lines(every))
        typer.echo(f"{len(every)} checkpoint(s) written to {export}")


@app.command("export")
def export_log(
    out: Annotated[Path, typer.Argument(help="file to write (JSON lines)")],
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Write the whole log (seq, canonical entry, chain hash) to a file, for verification elsewhere."""
    from ehr.audit.export import write_rows

    audit_log = _open_log(Settings(db_url=db, data_dir=data_dir))
    try:
        count = write_rows(audit_log.chain_rows(), out)
    finally:
        audit_log.store.close()
    typer.echo(f"{count} entries written to {out}")


def _open_log(settings: Settings) -> SqlAuditLog:
    from ehr.audit.reports.source import open_reader

    return open_reader(settings)


def _existing_signer(data_dir: Path) -> Signer:
    from ehr.audit.checkpoints import KEY_FILE, Signer

    if not (data_dir / "keys" / KEY_FILE).exists():
        typer.echo(f"ehr audit verify: no audit signing key in {data_dir / 'keys'}; run it with the server's "
                   "--data-dir.", err=True)
        raise typer.Exit(2)
    return Signer.from_data_dir(data_dir)


def _write_atomically(path: Path, data: bytes) -> None:
    temporary = path.with_name(path.name + ".tmp")
    temporary.write_bytes(data)
    os.replace(temporary, path)


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
