"""Anomalies in the audit log, each with a reason a data officer can act on.

Rules (every threshold is a field of :class:`AnomalyRules`):

``break-glass``
    every entry made under break-glass (emergency override) — always reviewed, one anomaly per entry.
``after-hours``
    successful entries whose local time (``zone``) is outside ``[office_start, office_end)``, default
    07:00–19:00; one anomaly per agent and local day.
``unusual-volume``
    an agent's distinct patients on one local day, far above a baseline: see :mod:`.volume`.
``other-hospital``
    successful access to a patient of another hospital (``patient_tenant != tenant``) for which
    :class:`CareLinks` knows no care link between the caller's hospital and the patient; one anomaly per
    agent and patient. Without a care-link source every such access is reported.
``denied-burst``
    at least ``denied_burst`` refused attempts (401/403) by one agent within ``denied_window``; one
    anomaly per burst.

Only entries inside the report's period are reported; the volume rule also reads the
``baseline_days`` before it, which the caller fetches (see :mod:`.build`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Protocol

from ehr.audit.reports.model import Period
from ehr.audit.reports.rules import AnomalyRules
from ehr.audit.reports.volume import volume_outliers
from ehr.audit.rows import AuditRow


class AnomalyKind(StrEnum):
    BREAK_GLASS = "break-glass"
    AFTER_HOURS = "after-hours"
    UNUSUAL_VOLUME = "unusual-volume"
    OTHER_HOSPITAL = "other-hospital"
    DENIED_BURST = "denied-burst"


@dataclass(frozen=True, slots=True)
class Anomaly:
    kind: AnomalyKind
    tenant: str
    agent: str
    first: datetime
    last: datetime
    #: entries involved (for unusual volume: distinct patients that day)
    count: int
    reason: str
    patient: str | None = None
    #: the audit entries involved, to look up in the log
    seqs: tuple[int, ...] = ()


class CareLinks(Protocol):
    """Whether a hospital has a care relationship with a patient of another hospital (supplied later by
    patient identity matching)."""

    def linked(self, tenant: str, patient: str) -> bool: ...


class NoCareLinks:
    """No care links known: every access to another hospital's patient is reported."""

    def linked(self, tenant: str, patient: str) -> bool:
        return False


def detect_anomalies(rows: Iterable[AuditRow], period: Period, rules: AnomalyRules,
                     links: CareLinks) -> tuple[Anomaly, ...]:
    """Every anomaly within ``period``, oldest first. ``rows`` may reach back before the period (baseline)."""
    everything = sorted(rows, key=lambda r: r.seq)
    inside = [r for r in everything if period.contains(r.recorded)]
    found = [
        *break_glass(inside),
        *after_hours(inside, rules),
        *unusual_volume(everything, period, rules),
        *other_hospital(inside, links),
        *denied_bursts(inside, rules),
    ]
    return tuple(sorted(found, key=lambda a: (a.first, a.kind, a.agent)))


def break_glass(rows: Iterable[AuditRow]) -> list[Anomaly]:
    return [
        Anomaly(AnomalyKind.BREAK_GLASS, r.tenant, r.agent, r.recorded, r.recorded, 1,
                f"break-glass (emergency override): {r.interaction} of {r.patient or 'no patient'}"
                f" with purpose {r.purpose or 'not declared'}, status {r.status}", r.patient, (r.seq,))
        for r in rows if r.break_glass
    ]


def after_hours(rows: Iterable[AuditRow], rules: AnomalyRules) -> list[Anomaly]:
    groups: dict[tuple[str, str, str], list[AuditRow]] = {}
    for row in rows:
        local = row.recorded.astimezone(rules.zone)
        if not row.denied and not rules.office_start <= local.time() < rules.office_end:
            groups.setdefault((row.tenant, row.agent, local.date().isoformat()), []).append(row)
    found = []
    for (tenant, agent, day), entries in groups.items():
        start, end = (entries[0].recorded.astimezone(rules.zone), entries[-1].recorded.astimezone(rules.zone))
        patients = len({r.patient for r in entries if r.patient is not None})
        when = f"at {start:%H:%M}" if len(entries) == 1 else f"between {start:%H:%M} and {end:%H:%M}"
        reason = (f"{plural(len(entries), 'entry', 'entries')} ({plural(patients, 'patient')}) on {day} {when},"
                  f" outside office hours {rules.describe_hours()}")
        found.append(Anomaly(AnomalyKind.AFTER_HOURS, tenant, agent, entries[0].recorded, entries[-1].recorded,
                             len(entries), reason, _single_patient(entries), _seqs(entries)))
    return found


def other_hospital(rows: Iterable[AuditRow], links: CareLinks) -> list[Anomaly]:
    groups: dict[tuple[str, str, str, str], list[AuditRow]] = {}
    for row in rows:
        if (not row.denied and row.patient is not None and row.patient_tenant is not None
                and row.patient_tenant != row.tenant and not links.linked(row.tenant, row.patient)):
            groups.setdefault((row.tenant, row.agent, row.patient, row.patient_tenant), []).append(row)
    return [
        Anomaly(AnomalyKind.OTHER_HOSPITAL, tenant, agent, entries[0].recorded, entries[-1].recorded,
                len(entries), f"{plural(len(entries), 'entry', 'entries')} by a user of {tenant} on {patient} of"
                f" {owner}, with no care link between {tenant} and the patient", patient, _seqs(entries))
        for (tenant, agent, patient, owner), entries in groups.items()
    ]


def unusual_volume(rows: Iterable[AuditRow], period: Period, rules: AnomalyRules) -> list[Anomaly]:
    found = []
    for out in volume_outliers(rows, period, rules):
        reason = (f"{out.count} patients on {out.day.isoformat()}, above {out.whose} baseline of"
                  f" {out.baseline_days} days (median {out.centre:g}, threshold {out.threshold:.1f} = median"
                  f" + {rules.volume_k:g} · max(1.4826 · MAD, 1))")
        found.append(Anomaly(AnomalyKind.UNUSUAL_VOLUME, out.tenant, out.agent, out.entries[0].recorded,
                             out.entries[-1].recorded, out.count, reason, None, _seqs(out.entries)))
    return found


def denied_bursts(rows: Iterable[AuditRow], rules: AnomalyRules) -> list[Anomaly]:
    per_agent: dict[tuple[str, str], list[AuditRow]] = {}
    for row in rows:
        if row.denied:
            per_agent.setdefault((row.tenant, row.agent), []).append(row)
    found = []
    for (tenant, agent), denied in per_agent.items():
        for burst in _bursts(sorted(denied, key=lambda r: r.recorded), rules.denied_burst, rules.denied_window):
            minutes = rules.denied_window.total_seconds() / 60
            reason = (f"{len(burst)} denied attempts within {minutes:g} minutes"
                      f" ({burst[0].recorded:%Y-%m-%d %H:%M}–{burst[-1].recorded:%H:%M} UTC)")
            found.append(Anomaly(AnomalyKind.DENIED_BURST, tenant, agent, burst[0].recorded, burst[-1].recorded,
                                 len(burst), reason, _single_patient(burst), _seqs(burst)))
    return found


def _bursts(denied: Sequence[AuditRow], least: int, window: timedelta) -> list[Sequence[AuditRow]]:
    """Greedy: from the first attempt not yet in a burst, take every attempt within ``window`` of it; a
    group of at least ``least`` attempts is a burst (and its attempts are not reused)."""
    found: list[Sequence[AuditRow]] = []
    start = 0
    while start < len(denied):
        end = start
        while end + 1 < len(denied) and denied[end + 1].recorded - denied[start].recorded <= window:
            end += 1
        if end - start + 1 >= least:
            found.append(denied[start:end + 1])
            start = end + 1
        else:
            start += 1
    return found


def plural(count: int, one: str, many: str | None = None) -> str:
    return f"{count} {one if count == 1 else many or one + 's'}"


def _single_patient(entries: Sequence[AuditRow]) -> str | None:
    patients = {r.patient for r in entries if r.patient is not None}
    return patients.pop() if len(patients) == 1 else None


def _seqs(entries: Iterable[AuditRow]) -> tuple[int, ...]:
    return tuple(r.seq for r in entries)
