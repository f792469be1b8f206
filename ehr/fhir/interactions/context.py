"""What every interaction receives (the request context and the injected services) and returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from ehr.audit.boundary import Auditor, AuditSearch, NoAudit
from ehr.audit.receipts import DONE, Receipt
from ehr.auth.boundary import Authorizer, Principal
from ehr.auth.scope_authorizer import ScopeAuthorizer
from ehr.mpi.protocol import Matcher
from ehr.search.blind import Blinder
from ehr.search.index_rows import IndexRows
from ehr.store.protocol import Store
from ehr.store.records import VersionRecord

ReturnPreference = Literal["minimal", "representation", "OperationOutcome"]


@dataclass(frozen=True, slots=True)
class Context:
    """The request, as the interactions see it."""

    base_url: str
    principal: Principal
    #: the client's Prefer: return=..., None when it sent none
    prefer_return: ReturnPreference | None = None
    lenient: bool = False
    default_count: int = 20
    #: declared purpose of use (a v3 ActReason code such as TREAT), for the audit log
    purpose_of_use: str | None = None
    #: access under break-glass (emergency override)
    break_glass: bool = False
    #: network address of the client, when known
    client: str | None = None
    #: names of the request's query parameters (never their values), for the audit log
    parameters: tuple[str, ...] = ()

    @property
    def tenant(self) -> str:
        return self.principal.tenant


class Suggester(Protocol):
    """What ``$ai-suggest`` needs of the inference service (``inference.service.InferenceService``)."""

    def suggest(self, patient: Mapping[str, Any], resources: Sequence[Mapping[str, Any]],
                now: datetime) -> dict[str, Any]: ...

    def observation_codes(self) -> frozenset[tuple[str, str]]: ...


@dataclass(frozen=True, slots=True)
class Services:
    """Everything the interactions depend on, built once by ``create_app`` and injected."""

    store: Store
    indexer: Callable[[dict[str, Any]], IndexRows]
    registry: Any
    authorizer: Authorizer = field(default_factory=ScopeAuthorizer)
    auditor: Auditor = field(default_factory=NoAudit)
    #: None when the models are not loaded (``Settings.inference`` off)
    suggester: Suggester | None = None
    #: rewrites searches on blind-indexed parameters (None: index values stored in the clear)
    blinder: Blinder | None = None
    #: the tamper-evident log, for AuditEvent search; None when audit is off
    audit_log: AuditSearch | None = None
    #: the master patient index's matching engine; None: Patients are not linked (``ehr.mpi``)
    matcher: Matcher[Any] | None = None


@dataclass(slots=True)
class Result:
    """An interaction's answer: the status, a body (resource JSON bytes or a dict) and the version
    it concerns (for ETag, Last-Modified and Location). ``touched`` lists the versions it read or
    wrote, for the audit log, when they are more than ``record`` (a search, a history, a
    transaction); ``receipt`` is the audit entry's, set by the runner."""

    status: int
    body: bytes | dict[str, Any] | None = None
    record: VersionRecord | None = None
    location: bool = False
    headers: dict[str, str] = field(default_factory=dict)
    touched: tuple[VersionRecord, ...] = ()
    receipt: Receipt = DONE

    def touched_records(self) -> tuple[VersionRecord, ...]:
        if self.touched:
            return self.touched
        return (self.record,) if self.record is not None else ()
