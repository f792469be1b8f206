"""What every interaction receives (the request context and the injected services) and returns."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from ehr.audit.boundary import Auditor, NoAudit
from ehr.auth.boundary import AllowAll, Authorizer, Principal
from ehr.mpi.protocol import Matcher
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
    authorizer: Authorizer = field(default_factory=AllowAll)
    auditor: Auditor = field(default_factory=NoAudit)
    #: None when the models are not loaded (``Settings.inference`` off)
    suggester: Suggester | None = None
    #: the master patient index's matching engine; None: Patients are not linked (``ehr.mpi``)
    matcher: Matcher[Any] | None = None


@dataclass(slots=True)
class Result:
    """An interaction's answer: the status, a body (resource JSON bytes or a dict) and the version
    it concerns (for ETag, Last-Modified and Location)."""

    status: int
    body: bytes | dict[str, Any] | None = None
    record: VersionRecord | None = None
    location: bool = False
    headers: dict[str, str] = field(default_factory=dict)
