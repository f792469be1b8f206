"""The audit boundary. The interaction runner (``ehr.fhir.interactions.runner``) calls
:meth:`Auditor.record` exactly once per interaction — inside the write's own unit of work for writes
(``tx`` given), so the entry commits with the data or not at all, and after the unit of work for reads
and failures (``tx`` None), whose response then waits on the returned :class:`Receipt` until the
entry is durable. Handlers never audit.

:class:`NoAudit` is the default of the seam, and what ``Settings.audit = False`` selects; the
tamper-evident log is ``ehr.audit.log.SqlAuditLog``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ehr.audit.query import AuditQuery
from ehr.audit.receipts import DONE, Receipt
from ehr.store.protocol import Tx


@dataclass(frozen=True, slots=True)
class Touched:
    """A resource the interaction read or wrote, as a reference, with the patients it belongs to."""

    #: ``Observation/123``
    reference: str
    #: ``Patient/..`` of the resource's patient compartment (the Patient itself for a Patient)
    patients: tuple[str, ...] = ()
    #: the hospital (tenant) the resource belongs to, when known
    tenant: str | None = None


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """What happened, to what, by whom, and how it ended. Holds references only, never PHI: a search
    contributes the names of its parameters, never their values."""

    interaction: str
    tenant: str
    subject: str
    status: int
    resource_type: str | None = None
    id: str | None = None
    touched: tuple[Touched, ...] = ()
    roles: tuple[str, ...] = ()
    purpose_of_use: str | None = None
    break_glass: bool = False
    #: network address of the client, when known
    client: str | None = None
    #: names of the request's query parameters (a search's criteria), never their values
    parameters: tuple[str, ...] = ()


class Auditor(Protocol):
    def record(self, event: AuditRecord, tx: Tx | None) -> Receipt:
        """Append ``event``: in ``tx`` (a write's unit of work) when given, else on its own; the
        receipt is done once the entry is durable."""
        ...


class NoAudit:
    def record(self, event: AuditRecord, tx: Tx | None) -> Receipt:
        return DONE


class AuditSearch(Protocol):
    def search(self, query: AuditQuery) -> list[tuple[int, bytes]]:
        """(seq, AuditEvent JSON) of the entries matching ``query``, newest first, at most
        ``query.count + 1`` (one more tells that there is a next page)."""
        ...
