"""Generated audit rows for tests and demonstrations: three hospitals whose users work office hours on
their own patients, plus one example of each anomaly. Deterministic for a given seed; references and
user ids only."""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, timedelta

from ehr.audit.rows import AuditRow

TENANTS = ("hospital-a", "hospital-b", "hospital-c")
_ROLES = {"clinician": ("clinician",), "nurse": ("nurse",), "clerk": ("registration",)}
_READS = (("read", "R", "Observation"), ("search-type", "E", "Condition"), ("read", "R", "MedicationRequest"),
          ("vread", "R", "Observation"), ("read", "R", "Patient"))


@dataclass(slots=True)
class _Log:
    rows: list[AuditRow] = field(default_factory=list)

    def add(self, at: datetime, tenant: str, agent: str, patient: str | None, *, interaction: str = "read",
            action: str = "R", resource: str = "Observation", status: int = 200, purpose: str | None = "TREAT",
            patient_tenant: str | None = None, break_glass: bool = False, roles: tuple[str, ...] = ()) -> None:
        denied = status in (401, 403)
        outcome = "0" if status < 400 else "4" if status < 500 else "8"
        pid = patient.split("/")[1] if patient else "0"
        self.rows.append(AuditRow(
            seq=len(self.rows) + 1, recorded=at, tenant=tenant, agent=agent, interaction=interaction,
            action=action, status=status, outcome=outcome, patient=patient,
            patient_tenant=patient_tenant or (tenant if patient else None),
            resources=() if denied else (f"{resource}/{pid}-{len(self.rows) % 97}",), purpose=purpose,
            roles=roles or _ROLES[agent.split("-")[0]], break_glass=break_glass, denied=denied))


def users(tenant: str) -> tuple[str, ...]:
    suffix = tenant.rsplit("-", 1)[-1]
    return (f"clinician-{suffix}1", f"clinician-{suffix}2", f"nurse-{suffix}3", f"clerk-{suffix}4")


def patients(tenant: str, count: int = 40) -> tuple[str, ...]:
    suffix = tenant.rsplit("-", 1)[-1]
    return tuple(f"Patient/{suffix}{n:03d}" for n in range(1, count + 1))


def generate_rows(start: date, days: int, seed: int = 7) -> list[AuditRow]:
    """``days`` days of ordinary work from ``start`` (UTC), then the anomalies on the last day."""
    rng = random.Random(seed)
    log = _Log()
    for moment, tenant, agent, patient in sorted(_ordinary(rng, start, days)):
        interaction, action, resource = rng.choice(_READS)
        log.add(moment, tenant, agent, patient, interaction=interaction, action=action, resource=resource)
    _anomalies(log, datetime.combine(start + timedelta(days=days - 1), time(0), UTC))
    in_order = sorted(log.rows, key=lambda r: (r.recorded, r.seq))
    return [replace(row, seq=index) for index, row in enumerate(in_order, start=1)]  # as the log numbers them


def _ordinary(rng: random.Random, start: date, days: int) -> Iterator[tuple[datetime, str, str, str]]:
    for offset in range(days):
        day = datetime.combine(start + timedelta(days=offset), time(0), UTC)
        if day.weekday() >= 5:
            continue
        for tenant in TENANTS:
            for agent in users(tenant):
                for patient in rng.sample(patients(tenant), rng.randint(4, 8)):
                    for _ in range(rng.randint(1, 3)):
                        yield day + timedelta(minutes=rng.randint(8 * 60, 17 * 60 + 30)), tenant, agent, patient


def _anomalies(log: _Log, day: datetime) -> None:
    """One of each kind on ``day`` (UTC midnight)."""
    log.add(day + timedelta(hours=3, minutes=12), "hospital-a", "clinician-a1", "Patient/a007",
            interaction="break-glass", action="E", purpose="ETREAT", break_glass=True)
    for minute in range(0, 50, 7):
        log.add(day + timedelta(hours=22, minutes=minute), "hospital-b", "nurse-b3", "Patient/b011")
    for n, patient in enumerate(patients("hospital-c", 40)):
        log.add(day + timedelta(hours=9, minutes=n * 5), "hospital-c", "clerk-c4", patient,
                interaction="search-type", action="E", resource="Patient")
    log.add(day + timedelta(hours=11), "hospital-b", "clinician-b2", "Patient/a003", patient_tenant="hospital-a")
    log.add(day + timedelta(hours=11, minutes=4), "hospital-b", "clinician-b2", "Patient/a003",
            patient_tenant="hospital-a", resource="Condition")
    for second in range(0, 360, 45):
        log.add(day + timedelta(hours=14, seconds=second), "hospital-a", "clerk-a4", "Patient/a020", status=403,
                purpose=None)
