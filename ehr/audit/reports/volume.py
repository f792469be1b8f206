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
    baselines = _Baselines(counts, rules.volume_k)
    found = []
    for key, entries in days.items():
        tenant, agent, day = key
        count = counts[key]
        if count < rules.volume_min_patients or not period.contains(entries[0].recorded):
            continue
        own = (tenant, agent)
        whose, group = ("their own", own) if baselines.size(own) > rules.volume_min_baseline_days else (
            f"{tenant}'s", (tenant, None))
        size = baselines.size(group) - 1
        if size < rules.volume_min_baseline_days:
            continue
        centre, threshold = baselines.threshold(group, count)
        if count > threshold:
            found.append(VolumeOutlier(tenant, agent, day, count, whose, size, centre, threshold, tuple(entries)))
    return found


class _Baselines:
    """Distinct-patient counts per agent and per hospital. A day is tested against its group without
    itself, and the result depends only on the group and the day's count, so it is computed once each."""

    def __init__(self, counts: dict[AgentDay, int], k: float) -> None:
        self.k = k
        self.groups: dict[tuple[str, str | None], list[int]] = {}
        for (tenant, agent, _day), count in counts.items():
            self.groups.setdefault((tenant, agent), []).append(count)
            self.groups.setdefault((tenant, None), []).append(count)
        self.cache: dict[tuple[tuple[str, str | None], int], tuple[float, float]] = {}

    def size(self, group: tuple[str, str | None]) -> int:
        return len(self.groups.get(group, ()))

    def threshold(self, group: tuple[str, str | None], left_out: int) -> tuple[float, float]:
        key = (group, left_out)
        if key not in self.cache:
            others = list(self.groups[group])
            others.remove(left_out)
            self.cache[key] = robust_threshold(others, self.k)
        return self.cache[key]


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
