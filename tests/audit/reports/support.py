"""Audit rows for the report tests."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from ehr.audit.rows import AuditRow

DAY = datetime(2024, 5, 6, tzinfo=UTC)  # a Monday
_SEQ = count(1)


def row(at: datetime, agent: str = "clinician-a1", patient: str | None = "Patient/a1", **fields: Any) -> AuditRow:
    """A successful read by ``agent`` of ``patient`` at ``at`` in hospital-a; ``fields`` override."""
    status = int(fields.pop("status", 403 if fields.get("denied") else 200))
    values: dict[str, Any] = {
        "seq": next(_SEQ), "recorded": at, "tenant": "hospital-a", "agent": agent, "interaction": "read",
        "action": "R", "status": status, "outcome": "0" if status < 400 else "4", "patient": patient,
        "patient_tenant": "hospital-a" if patient else None,
        "resources": (f"Observation/{next(_SEQ)}",), "purpose": "TREAT", "roles": ("clinician",),
        **fields,
    }
    return AuditRow(**values)


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """``hour:minute`` UTC, ``day`` days after :data:`DAY`."""
    return DAY + timedelta(days=day, hours=hour, minutes=minute)
