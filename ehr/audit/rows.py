"""What the audit log gives back to readers (reports, FHIR search of AuditEvent): one flat, typed row
per entry, taken from the stored AuditEvent's indexed columns. Rows hold references and codes, never
PHI.

The log itself (``ehr.audit.log``) implements :class:`AuditReader`; reports only depend on this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, slots=True)
class AuditRow:
    """One audit entry (one FHIR AuditEvent, shaped by IHE BALP)."""

    seq: int
    recorded: datetime  # timezone-aware, UTC
    #: the hospital (tenant) of the caller
    tenant: str
    #: the user or client that acted (the principal's subject)
    agent: str
    #: FHIR restful interaction or operation: read, vread, search-type, create, update, patch, delete,
    #: history-instance, ..., or an operation name such as ``$ai-suggest``, ``break-glass``, ``keys-shred``
    interaction: str
    #: AuditEvent.action: C, R, U, D or E
    action: str
    #: the HTTP status the interaction ended with
    status: int
    #: AuditEvent.outcome: "0" success, "4" minor failure (4xx), "8" serious failure (5xx), "12" major
    outcome: str
    #: ``Patient/<id>`` whose record was touched, when there was one
    patient: str | None = None
    #: the hospital (tenant) the touched patient's record belongs to, when known
    patient_tenant: str | None = None
    #: references of the resources touched (``Observation/123``), at most a handful for a search
    resources: tuple[str, ...] = ()
    #: purpose of use code (v3 ActReason, e.g. TREAT, ETREAT for break-glass), when declared
    purpose: str | None = None
    roles: tuple[str, ...] = ()
    #: access was under break-glass (emergency override)
    break_glass: bool = False
    #: the interaction was refused (401/403)
    denied: bool = False


class AuditReader(Protocol):
    def rows(self, *, patient: str | None = None, agent: str | None = None, tenant: str | None = None,
             since: datetime | None = None, until: datetime | None = None) -> Iterator[AuditRow]:
        """Entries matching every given filter, oldest first."""
        ...
