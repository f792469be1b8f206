"""Any report as one neutral document — facts, charts, tables, and the records (one row per entry or
anomaly) — so that HTML, PDF and CSV render the same content. Times are shown in the report's zone."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta, tzinfo

from ehr.audit.reports.anomalies import Anomaly
from ehr.audit.reports.model import PatientAccessReport, Period, UserActivityReport
from ehr.audit.rows import AuditRow

#: tables in HTML and PDF show at most this many rows (the CSV has them all)
SHOWN_ROWS = 500
_OUTCOMES = {"0": "success", "4": "minor failure", "8": "serious failure", "12": "major failure"}

ENTRY_COLUMNS = ("seq", "recorded", "tenant", "agent", "roles", "interaction", "action", "status", "outcome",
                 "patient", "patient_tenant", "resources", "purpose", "break_glass", "denied")
ANOMALY_COLUMNS = ("kind", "tenant", "agent", "patient", "first", "last", "count", "reason", "seqs")


@dataclass(frozen=True, slots=True)
class Table:
    title: str
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    #: rows there were before :data:`SHOWN_ROWS` cut the table
    total: int


@dataclass(frozen=True, slots=True)
class Chart:
    title: str
    labels: tuple[str, ...]
    values: tuple[int, ...]
    #: bars along the y axis (long labels: users, kinds); else along x (days)
    horizontal: bool = False


@dataclass(frozen=True, slots=True)
class Document:
    kind: str
    title: str
    facts: tuple[tuple[str, str], ...]
    charts: tuple[Chart, ...]
    tables: tuple[Table, ...]
    #: the machine-readable records (CSV): every entry or anomaly, never cut
    records: Table


def patient_document(report: PatientAccessReport, zone: tzinfo) -> Document:
    entries = report.entries
    return Document(
        kind="patient",
        title=f"Access report for {report.patient}",
        facts=(*_period_facts(report.period, zone), ("Entries", str(len(entries))),
               ("Users", str(len(report.per_agent))), ("Hospitals", ", ".join(report.tenants) or "none"),
               ("Break-glass entries", str(sum(r.break_glass for r in entries))),
               ("Denied attempts", str(sum(r.denied for r in entries)))),
        charts=(Chart("Accesses per day", *_days(report.per_day)),
                Chart("Accesses per user", *_pairs(report.per_agent[:15]), horizontal=True)),
        tables=(_table("Who accessed the record", ("When", "Who", "Hospital", "Roles", "What", "Resources",
                                                   "Purpose", "Outcome"),
                       [_access_cells(r, zone) for r in entries]),
                _table("Entries per user", ("User", "Entries"), [(a, str(n)) for a, n in report.per_agent])),
        records=entry_records(entries),
    )


def user_document(report: UserActivityReport, zone: tzinfo) -> Document:
    entries = report.entries
    return Document(
        kind="user",
        title=f"Activity of {report.agent}",
        facts=(*_period_facts(report.period, zone), ("Entries", str(len(entries))),
               ("Patients", str(len(report.per_patient))),
               ("Hospitals", ", ".join(sorted({r.tenant for r in entries})) or "none"),
               ("Denied attempts", str(sum(r.denied for r in entries)))),
        charts=(Chart("Entries per day", *_days(report.per_day)),
                Chart("Entries per interaction", *_pairs(report.per_interaction[:15]), horizontal=True),
                Chart("Distinct patients per day", *_days(report.patients_per_day))),
        tables=(_table("Entries", ("When", "Hospital", "What", "Patient", "Resources", "Purpose", "Outcome"),
                       [_activity_cells(r, zone) for r in entries]),
                _table("Entries per patient", ("Patient", "Entries"), [(p, str(n)) for p, n in report.per_patient]),
                _table("Entries per day", ("Day", "Entries"), [(d.isoformat(), str(n)) for d, n in report.per_day])),
        records=entry_records(entries),
    )


def anomaly_document(anomalies: Sequence[Anomaly], period: Period, zone: tzinfo, rules: str) -> Document:
    kinds = Counter(str(a.kind) for a in anomalies)
    agents = Counter(a.agent for a in anomalies)
    per_day = Counter(a.first.astimezone(zone).date() for a in anomalies)
    return Document(
        kind="anomalies",
        title="Anomalies",
        facts=(*_period_facts(period, zone), ("Anomalies", str(len(anomalies))), ("Rules", rules)),
        charts=(Chart("Anomalies by kind", *_pairs(sorted(kinds.items(), key=lambda kv: (-kv[1], kv[0]))),
                      horizontal=True),
                Chart("Anomalies per user", *_pairs(agents.most_common(15)), horizontal=True),
                Chart("Anomalies per day", *_days(sorted(per_day.items())))),
        tables=(_table("Anomalies", ("When", "Kind", "Who", "Hospital", "Patient", "Reason"),
                       [(_local(a.first, zone), str(a.kind), a.agent, a.tenant, a.patient or "", a.reason)
                        for a in anomalies]),),
        records=Table("anomalies", ANOMALY_COLUMNS, tuple(_anomaly_record(a) for a in anomalies), len(anomalies)),
    )


def entry_records(entries: Sequence[AuditRow]) -> Table:
    rows = tuple(
        (str(r.seq), r.recorded.isoformat(), r.tenant, r.agent, " ".join(r.roles), r.interaction, r.action,
         str(r.status), r.outcome, r.patient or "", r.patient_tenant or "", " ".join(r.resources), r.purpose or "",
         str(r.break_glass).lower(), str(r.denied).lower())
        for r in entries
    )
    return Table("entries", ENTRY_COLUMNS, rows, len(rows))


def _anomaly_record(a: Anomaly) -> tuple[str, ...]:
    return (str(a.kind), a.tenant, a.agent, a.patient or "", a.first.isoformat(), a.last.isoformat(), str(a.count),
            a.reason, " ".join(str(s) for s in a.seqs))


def _access_cells(r: AuditRow, zone: tzinfo) -> tuple[str, ...]:
    return (_local(r.recorded, zone), r.agent, r.tenant, ", ".join(r.roles), _what(r), _resources(r),
            r.purpose or "", _outcome(r))


def _activity_cells(r: AuditRow, zone: tzinfo) -> tuple[str, ...]:
    return (_local(r.recorded, zone), r.tenant, _what(r), r.patient or "", _resources(r), r.purpose or "",
            _outcome(r))


def _what(r: AuditRow) -> str:
    return f"{r.interaction} (break-glass)" if r.break_glass else r.interaction


def _resources(r: AuditRow) -> str:
    return ", ".join(r.resources[:5]) + (f" and {len(r.resources) - 5} more" if len(r.resources) > 5 else "")


def _outcome(r: AuditRow) -> str:
    if r.denied:
        return f"denied ({r.status})"
    return f"{_OUTCOMES.get(r.outcome, r.outcome)} ({r.status})"


def _local(moment: datetime, zone: tzinfo) -> str:
    return f"{moment.astimezone(zone):%Y-%m-%d %H:%M:%S}"


def _period_facts(period: Period, zone: tzinfo) -> tuple[tuple[str, str], ...]:
    since = f"from {_local(period.since, zone)}" if period.since else "from the first entry"
    until = f"to {_local(period.until, zone)} (excluded)" if period.until else "to the last entry"
    return (("Period", f"{since} {until}"), ("Time zone", str(zone)))


def _table(title: str, columns: tuple[str, ...], rows: Sequence[tuple[str, ...]]) -> Table:
    return Table(title, columns, tuple(rows[:SHOWN_ROWS]), len(rows))


def _pairs(items: Sequence[tuple[str, int]]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    return tuple(k for k, _ in items), tuple(v for _, v in items)


def _days(per_day: Sequence[tuple[date, int]]) -> tuple[tuple[str, ...], tuple[int, ...]]:
    """Every day from the first to the last (days without entries as 0); the last 400 days at most."""
    if not per_day:
        return (), ()
    counts = dict(per_day)
    last = per_day[-1][0]
    first = max(per_day[0][0], last - timedelta(days=399))
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    return tuple(d.isoformat() for d in days), tuple(counts.get(d, 0) for d in days)
