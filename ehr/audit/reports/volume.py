"""The unusual-volume rule: a robust outlier test on distinct patients per agent and local day.

For each (hospital, agent, local day) the count is the number of distinct patients the agent touched
with successful entries. A day inside the report's period is flagged when

    count ≥ volume_min_patients   and   count > median + volume_k · max(1.4826 · MAD, 1)

where median and MAD (median absolute deviation; 1.4826 · MAD estimates a standard deviation) are taken
over the baseline: the agent's **own** other active days (from ``baseline_days`` before the period to
its end) when there are at least ``volume_min_baseline_days`` of them, else the **hospital's**: every
other agent-day of the same hospital. Median and MAD are not moved by a few extreme days, which a mean
and standard deviation would be; the floor of 1 keeps a perfectly regular baseline (MAD 0) from flagging
a day with one extra patient. No baseline with enough days: nothing is flagged.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from statistics import median

from ehr.audit.reports.model import Period, local_day
from ehr.audit.reports.rules import AnomalyRules
from ehr.audit.rows import AuditRow

MAD_SCALE = 1.4826

AgentDay = tuple[str, str, date]


@dataclass(frozen=True, slots=True)
class VolumeOutlier:
    tenant: str
    agent: str
    day: date
    #: distinct patients that day
    count: int
    #: "their own" or "<hospital>'s"
    whose: str
    baseline_days: int
    centre: float
    threshold: float
    entries: tuple[AuditRow, ...]


def volume_outliers(rows: Iterable[AuditRow], period: Period, rules: AnomalyRules) -> list[VolumeOutlier]:
    start = period.since - timedelta(days=rules.baseline_days) if period.since is not None else None
    window = Period(start, period.until)
    days = _patients_per_agent_day([r for r in rows if window.contains(r.recorded)], rules)
    counts = {key: len({r.patient for r in entries}) for key, entries in days.items()}
    found = []
    for key, entries in days.items():
        tenant, agent, day = key
        if counts[key] < rules.volume_min_patients or not period.contains(entries[0].recorded):
            continue
        own = [n for k, n in counts.items() if k[:2] == key[:2] and k != key]
        whose, baseline = ("their own", own) if len(own) >= rules.volume_min_baseline_days else (
            f"{tenant}'s", [n for k, n in counts.items() if k[0] == tenant and k != key])
        if len(baseline) < rules.volume_min_baseline_days:
            continue
        centre, threshold = robust_threshold(baseline, rules.volume_k)
        if counts[key] > threshold:
            found.append(VolumeOutlier(tenant, agent, day, counts[key], whose, len(baseline), centre, threshold,
                                       tuple(entries)))
    return found


def robust_threshold(values: Sequence[int], k: float) -> tuple[float, float]:
    """``(median, median + k · max(1.4826 · MAD, 1))`` of ``values`` (not empty)."""
    centre = float(median(values))
    mad = float(median(abs(v - centre) for v in values))
    return centre, centre + k * max(MAD_SCALE * mad, 1.0)


def _patients_per_agent_day(rows: Iterable[AuditRow], rules: AnomalyRules) -> dict[AgentDay, list[AuditRow]]:
    """Successful entries with a patient, per (hospital, agent, local day), in time order."""
    days: dict[AgentDay, list[AuditRow]] = {}
    for row in sorted(rows, key=lambda r: r.recorded):
        if row.patient is not None and not row.denied:
            days.setdefault((row.tenant, row.agent, local_day(row.recorded, rules.zone)), []).append(row)
    return days
