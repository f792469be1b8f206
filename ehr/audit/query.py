"""What a search of the audit log asks for (``GET /fhir/AuditEvent?...``): each field holds the
alternatives of one parameter (OR), the fields combine with AND."""

from __future__ import annotations

from dataclasses import dataclass

from ehr.search.query import RangeValue


@dataclass(frozen=True, slots=True)
class AuditQuery:
    #: only entries of this hospital's callers or about its patients
    tenant: str
    patients: tuple[str, ...] = ()
    agents: tuple[str, ...] = ()
    actions: tuple[str, ...] = ()
    outcomes: tuple[str, ...] = ()
    #: every range must hold (``date=ge2024-01-01&date=lt2024-02-01``); microseconds
    dates: tuple[RangeValue, ...] = ()
    #: the page after the cursor: entries older than this seq
    before_seq: int | None = None
    count: int = 20
    #: one entry by its seq (a read of AuditEvent/<seq>)
    seq: int | None = None
