"""The thresholds of the anomaly rules (see :mod:`ehr.audit.reports.anomalies`), from the settings."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ehr.settings import Settings


@dataclass(frozen=True, slots=True)
class AnomalyRules:
    zone: tzinfo = UTC
    office_start: time = time(7)
    office_end: time = time(19)
    #: unusual volume: flag a day above median + volume_k · max(1.4826 · MAD, 1) of the baseline
    volume_k: float = 4.0
    #: unusual volume: days with fewer distinct patients are never flagged
    volume_min_patients: int = 10
    #: unusual volume: an agent's own baseline needs this many other active days, else the hospital's
    volume_min_baseline_days: int = 5
    #: unusual volume: how far before the period the baseline reaches
    baseline_days: int = 28
    denied_burst: int = 5
    denied_window: timedelta = timedelta(minutes=10)

    @classmethod
    def from_settings(cls, settings: Settings) -> AnomalyRules:
        return cls(zone=load_zone(settings.audit_timezone), office_start=settings.audit_office_hours[0],
                   office_end=settings.audit_office_hours[1])

    def describe_hours(self) -> str:
        return f"{self.office_start:%H:%M}–{self.office_end:%H:%M} {self.zone}"


def load_zone(name: str) -> tzinfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {name!r}; use an IANA name such as Europe/Berlin or UTC") from None

