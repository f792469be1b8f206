"""The two entry reports, as pure functions over audit rows.

- :func:`patient_access` — who accessed one patient's record, when, what, why and how it ended: the
  accounting of disclosures of HIPAA (45 CFR 164.528), shaped by the IHE BALP AuditEvent fields
  (https://profiles.ihe.net/ITI/BALP/);
- :func:`user_activity` — one agent's entries with counts per local day, per interaction and per patient.

Both take the rows already narrowed to the period (see :mod:`ehr.audit.reports.build`); days are local
days in the report's time zone.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, tzinfo

from ehr.audit.rows import AuditRow


@dataclass(frozen=True, slots=True)
class Period:
    """``[since, until)``; either end may be open. Both timezone-aware."""

    since: datetime | None = None
    until: datetime | None = None

    def contains(self, moment: datetime) -> bool:
        return (self.since is None or moment >= self.since) and (self.until is None or moment < self.until)


@dataclass(frozen=True, slots=True)
class PatientAccessReport:
    patient: str
    period: Period
    entries: tuple[AuditRow, ...]
    per_day: tuple[tuple[date, int], ...]
    #: entries per agent, most first
    per_agent: tuple[tuple[str, int], ...]
    #: the hospitals whose users accessed the record
    tenants: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UserActivityReport:
    agent: str
    period: Period
    entries: tuple[AuditRow, ...]
    per_day: tuple[tuple[date, int], ...]
    per_interaction: tuple[tuple[str, int], ...]
    #: entries per patient touched, most first (entries without a patient are not counted)
    per_patient: tuple[tuple[str, int], ...]
    #: distinct patients per local day
    patients_per_day: tuple[tuple[date, int], ...]


def local_day(moment: datetime, zone: tzinfo) -> date:
    return moment.astimezone(zone).date()


def patient_access(rows: Iterable[AuditRow], patient: str, period: Period, zone: tzinfo) -> PatientAccessReport:
    """Every entry that touched ``patient`` within ``period``, oldest first."""
    entries = tuple(sorted((r for r in rows if r.patient == patient and period.contains(r.recorded)),
                           key=lambda r: r.seq))
    return PatientAccessReport(
        patient=patient,
        period=period,
        entries=entries,
        per_day=_per_day(entries, zone),
        per_agent=_most_first(Counter(r.agent for r in entries)),
        tenants=tuple(sorted({r.tenant for r in entries})),
    )


def user_activity(rows: Iterable[AuditRow], agent: str, period: Period, zone: tzinfo) -> UserActivityReport:
    """Every entry of ``agent`` within ``period``, oldest first, with its counts."""
    entries = tuple(sorted((r for r in rows if r.agent == agent and period.contains(r.recorded)),
                           key=lambda r: r.seq))
    patients: dict[date, set[str]] = {}
    for row in entries:
        if row.patient is not None:
            patients.setdefault(local_day(row.recorded, zone), set()).add(row.patient)
    return UserActivityReport(
        agent=agent,
        period=period,
        entries=entries,
        per_day=_per_day(entries, zone),
        per_interaction=_most_first(Counter(r.interaction for r in entries)),
        per_patient=_most_first(Counter(r.patient for r in entries if r.patient is not None)),
        patients_per_day=tuple(sorted((day, len(seen)) for day, seen in patients.items())),
    )


def _per_day(entries: Iterable[AuditRow], zone: tzinfo) -> tuple[tuple[date, int], ...]:
    return tuple(sorted(Counter(local_day(r.recorded, zone) for r in entries).items()))


def _most_first(counts: Counter[str]) -> tuple[tuple[str, int], ...]:
    """Counts, most first; ties in name order so the output is stable."""
    return tuple(sorted(counts.items(), key=lambda item: (-item[1], item[0])))
