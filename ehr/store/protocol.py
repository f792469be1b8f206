"""The store interface. Interactions see only this; the SQL and in-memory stores implement it.

A unit of work (:class:`Tx`) is one database transaction: everything written in it — resource
versions, their search index rows and (later) audit entries — commits together or not at all.

Spec: https://hl7.org/fhir/R4/http.html#transactional-integrity
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from ehr.search.query import Position, SearchQuery
from ehr.store.records import PendingWrite, VersionRecord

if TYPE_CHECKING:
    from ehr.auth.access import Access


@dataclass(frozen=True, slots=True)
class HistoryQuery:
    """History at instance (type and id), type (type only) or system level (neither)."""

    resource_type: str | None = None
    id: str | None = None
    since: int | None = None
    at: int | None = None
    before_seq: int | None = None
    count: int = 50


@dataclass(frozen=True, slots=True)
class SearchPage:
    records: list[VersionRecord]
    total: int | None
    #: where the next page starts; None on the last page
    next: Position | None = None
    #: where the previous page ends (a backward position); None on the first page
    previous: Position | None = None

    @property
    def next_cursor(self) -> int | None:
        """The key after which the next page of an unsorted search starts (``SearchQuery.after``)."""
        return None if self.next is None else self.next.pk


class Tx(Protocol):
    """Every read of a unit of work opened with an ``access`` applies it in the query itself (rules:
    ``ehr.auth.access``); its writes are checked against it before anything is written."""

    #: the rights its reads and writes keep to; None: unrestricted
    access: Access | None

    def with_access(self, access: Access | None) -> Tx:
        """The same unit of work seen with other rights; None: unrestricted (the master patient index's
        linking and other internal machinery)."""
        ...

    def current(self, resource_type: str, id: str, *, for_update: bool = False) -> VersionRecord | None:
        """The latest version (possibly a deletion marker), or None if the id was never used."""
        ...

    def version(self, resource_type: str, id: str, version: int) -> VersionRecord | None: ...

    def write(self, writes: Sequence[PendingWrite]) -> list[VersionRecord]:
        """Store new versions and their index rows; raise ``Conflict`` if another writer got there."""
        ...

    def history(self, query: HistoryQuery) -> list[VersionRecord]: ...

    def search(self, query: SearchQuery) -> SearchPage: ...

    def read_many(self, keys: Sequence[tuple[str, str]]) -> list[VersionRecord]:
        """The current, non-deleted versions of the (type, id) ``keys`` that exist, in no set order."""
        ...

    def outgoing(self, keys: Sequence[tuple[str, str]], param: str | None) -> list[tuple[str, str]]:
        """The (type, id) targets of the reference parameter ``param`` (every one when None) of the
        current resources ``keys``, each once."""
        ...

    def incoming(self, source_type: str | None, param: str | None, targets: Sequence[tuple[str, str]],
                 limit: int) -> list[VersionRecord]:
        """At most ``limit`` current resources of ``source_type`` (any when None) whose reference
        parameter ``param`` (any when None) points at one of ``targets``, each once."""
        ...

    def lock(self, key: str) -> None:
        """Hold an exclusive lock on ``key`` until this unit of work ends (serialises conditional
        writes on the same criteria)."""
        ...

    def imported(self, key: str) -> bool:
        """Whether the import ledger holds ``key`` (a file or chunk digest)."""
        ...

    def record_import(self, key: str) -> None:
        """Add ``key`` to the import ledger, committing with the data it stands for."""
        ...


class Store(Protocol):
    def unit_of_work(self, *, write: bool, access: Access | None = None) -> AbstractContextManager[Tx]:
        """A transaction: committed when the block ends normally, rolled back on any exception. Its
        reads and writes keep to ``access`` (None: unrestricted)."""
        ...

    def close(self) -> None: ...
