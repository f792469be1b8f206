"""The audit boundary. The interaction runner (``ehr.fhir.interactions.runner``) calls
:meth:`Auditor.record` exactly once per interaction — inside the write's own unit of work for writes,
so the entry commits with the data, and before the response leaves for reads. Handlers never audit.

:class:`NoAudit` is the seam's default until the tamper-evident log is switched on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ehr.store.protocol import Tx


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What happened, to what, by whom, and how it ended. Holds references only, never PHI."""

    interaction: str
    tenant: str
    subject: str
    status: int
    resource_type: str | None = None
    id: str | None = None
    references: tuple[str, ...] = ()
    purpose_of_use: str | None = None


class Auditor(Protocol):
    def record(self, event: AuditRecord, tx: Tx | None) -> None: ...


class NoAudit:
    def record(self, event: AuditRecord, tx: Tx | None) -> None:
        return None
