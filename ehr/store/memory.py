"""An in-memory :class:`ehr.store.protocol.Store` for fast unit tests of the interactions.

One lock serialises units of work; a unit of work that raises is rolled back by restoring the
snapshot taken when it began, so the all-or-nothing rule holds here too.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace

from ehr.auth.access import READ_LETTERS, Access
from ehr.errors import Conflict, Forbidden
from ehr.search.index_rows import IndexRows
from ehr.search.memory import matches, sort_value
from ehr.search.paging import order_rows, page_of
from ehr.search.query import SearchQuery, SortValue
from ehr.store.memory_access import NO_LINKS, Links, Row, check_content, covered, letter_of, refusal
from ehr.store.protocol import HistoryQuery, SearchPage
from ehr.store.records import PendingWrite, VersionRecord


@dataclass
class _State:
    current: dict[tuple[str, str], VersionRecord] = field(default_factory=dict)
    keys: dict[tuple[str, str], int] = field(default_factory=dict)
    versions: list[VersionRecord] = field(default_factory=list)
    index: dict[tuple[str, str], IndexRows] = field(default_factory=dict)
    ledger: set[str] = field(default_factory=set)
    #: the ``patient`` of each resource's current version and of each version (type, id, version)
    patients: dict[tuple[str, str], str | None] = field(default_factory=dict)
    version_patients: dict[tuple[str, str, int], str | None] = field(default_factory=dict)

    def copy(self) -> _State:
        return _State(dict(self.current), dict(self.keys), list(self.versions), dict(self.index), set(self.ledger),
                      dict(self.patients), dict(self.version_patients))


class MemoryStore:
    def __init__(self) -> None:
        self._state = _State()
        self._lock = threading.RLock()
        #: the master patient index's links (source Patient id -> golden id); tests fill it
        self.mpi_links: dict[str, str] = {}

    @contextmanager
    def unit_of_work(self, *, write: bool, access: Access | None = None) -> Iterator[MemoryTx]:
        with self._lock:
            snapshot = self._state.copy()
            try:
                yield MemoryTx(self._state, access, self.mpi_links)
            except BaseException:
                self._state.__dict__.update(snapshot.__dict__)
                raise

    def close(self) -> None:
        return None


class MemoryTx:
    def __init__(self, state: _State, access: Access | None = None, links: dict[str, str] | None = None) -> None:
        self.state = state
        self.access = access
        self.links = links if links is not None else {}

    def with_access(self, access: Access | None) -> MemoryTx:
        """The same unit of work seen with other rights (None: unrestricted, for internal machinery)."""
        return MemoryTx(self.state, access, self.links)

    def _links(self) -> Links:
        """The index as the rules need it; only a declared purpose of use reaches across hospitals."""
        if self.access is None or self.access.purpose is None:
            return NO_LINKS
        tenants = {key[1]: r.tenant for key, r in self.state.current.items() if key[0] == "Patient"}
        return Links(self.links, tenants)

    def _covers(self, record: VersionRecord, letters: str = READ_LETTERS) -> bool:
        """The twin of the SQL guard: whether the access lets ``record`` (a current version) be seen."""
        if self.access is None:
            return True
        key = (record.resource_type, record.id)
        row = Row(record.resource_type, record.tenant, self.state.patients.get(key))
        return covered(self.access, letters, row, record, self.state.index.get(key, IndexRows()), self,
                       self._links())

    def _version_covered(self, record: VersionRecord) -> bool:
        if self.access is None:
            return True
        current = self.state.current.get((record.resource_type, record.id))
        patient = self.state.version_patients.get((record.resource_type, record.id, record.version))
        alone = covered(self.access, READ_LETTERS, Row(record.resource_type, record.tenant, patient),
                        record, IndexRows(), self, self._links(), criteria=False)
        return alone and current is not None and self._covers(current)

    def current(self, resource_type: str, id: str, *, for_update: bool = False) -> VersionRecord | None:
        record = self.state.current.get((resource_type, id))
        return record if record is not None and self._covers(record) else None

    def version(self, resource_type: str, id: str, version: int) -> VersionRecord | None:
        for record in self.state.versions:
            if (record.resource_type, record.id, record.version) == (resource_type, id, version):
                return record if self._version_covered(record) else None
        return None

    def check_writes(self, writes: Sequence[PendingWrite]) -> None:
        """Refuse (403) writes the unit of work's access does not allow, before anything is written."""
        if self.access is not None:
            self._check(self.access, self._keep_patients(writes))

    def _keep_patients(self, writes: Sequence[PendingWrite]) -> list[PendingWrite]:
        return [replace(w, patient=self.state.patients.get((w.resource_type, w.id)))
                if w.deleted and w.patient is None else w for w in writes]

    def write(self, writes: Sequence[PendingWrite]) -> list[VersionRecord]:
        writes = self._keep_patients(writes)
        self.check_writes(writes)
        out: list[VersionRecord] = []
        for w in writes:
            key = (w.resource_type, w.id)
            existing = self.state.current.get(key)
            if (existing.version if existing else None) != w.expected_version:
                raise Conflict(f"{w.resource_type}/{w.id} changed concurrently; read it again and retry.")
            seq = len(self.state.versions) + 1
            record = VersionRecord(w.resource_type, w.id, w.version, w.last_updated, w.tenant, w.deleted,
                                   w.method, w.body, seq)
            self.state.versions.append(record)
            self.state.current[key] = replace(record, method="PUT")
            self.state.keys.setdefault(key, len(self.state.keys) + 1)
            self.state.index[key] = w.index if (w.index is not None and not w.deleted) else IndexRows()
            self.state.patients[key] = w.patient
            self.state.version_patients[(w.resource_type, w.id, w.version)] = w.patient
            out.append(record)
        return out

    def _check(self, access: Access, writes: Sequence[PendingWrite]) -> None:
        """The twin of ``ehr.store.sql.write_check.check_writes``."""
        check_content(access, writes)
        for w in writes:
            existing = self.state.current.get((w.resource_type, w.id))
            if w.expected_version is None or existing is None:
                continue
            if existing.tenant != access.tenant or not self._covers(existing, letter_of(w)):
                raise Forbidden(refusal(w))

    def lock(self, key: str) -> None:
        """Units of work are already serialised by the store's lock."""

    def imported(self, key: str) -> bool:
        return key in self.state.ledger

    def record_import(self, key: str) -> None:
        self.state.ledger.add(key)

    def history(self, query: HistoryQuery) -> list[VersionRecord]:
        selected = [r for r in reversed(self.state.versions) if _in_history(r, query) and self._version_covered(r)]
        if query.at is not None:
            latest: dict[tuple[str, str], VersionRecord] = {}
            for r in selected:
                latest.setdefault((r.resource_type, r.id), r)
            selected = [r for r in selected if latest[(r.resource_type, r.id)] is r]
        return selected[: query.count]

    def search(self, query: SearchQuery) -> SearchPage:
        hits = [
            (self.state.keys[key], record, self.state.index.get(key, IndexRows()))
            for key, record in self.state.current.items()
            if matches(query, record, self.state.index.get(key, IndexRows()), self) and self._covers(record)
        ]
        total = len(hits) if query.total != "none" else None

        def key_of(hit: tuple[int, VersionRecord, IndexRows]) -> tuple[tuple[SortValue, ...], int]:
            return tuple(sort_value(k, hit[1], hit[2]) for k in query.sort), hit[0]

        page, following, preceding = page_of(order_rows(hits, query, key_of), query, key_of)
        return SearchPage([r for _, r, _ in page], total, following, preceding)

    def read_many(self, keys: Sequence[tuple[str, str]]) -> list[VersionRecord]:
        found = (self.state.current.get(key) for key in dict.fromkeys(keys))
        return [r for r in found if r is not None and not r.deleted and self._covers(r)]

    def outgoing(self, keys: Sequence[tuple[str, str]], param: str | None) -> list[tuple[str, str]]:
        found: dict[tuple[str, str], None] = {}
        for key in keys:
            record = self.state.current.get(key)
            if record is None or record.deleted or not self._covers(record):
                continue
            for row in self.state.index.get(key, IndexRows()).references:
                if (param is None or row.param == param) and row.target_type and row.target_id:
                    found[(row.target_type, row.target_id)] = None
        return list(found)

    def incoming(self, source_type: str | None, param: str | None, targets: Sequence[tuple[str, str]],
                 limit: int) -> list[VersionRecord]:
        wanted = set(targets)
        hits = sorted(
            (self.state.keys[key], self.state.current[key]) for key, rows in self.state.index.items()
            if (source_type is None or key[0] == source_type) and key in self.state.current
            and not self.state.current[key].deleted and self._covers(self.state.current[key])
            and any((param is None or r.param == param) and (r.target_type, r.target_id) in wanted
                    for r in rows.references))
        return [r for _, r in hits[:limit]]

    def resolve(self, resource_type: str, id: str) -> tuple[VersionRecord, IndexRows] | None:
        record = self.state.current.get((resource_type, id))
        if record is not None and not self._covers(record):
            return None
        return None if record is None else (record, self.state.index.get((resource_type, id), IndexRows()))

    def referrers(self, source_type: str, param: str, target_type: str,
                  target_id: str) -> list[tuple[VersionRecord, IndexRows]]:
        found = []
        for key, rows in self.state.index.items():
            if key[0] != source_type or key not in self.state.current:
                continue
            if any(r.param == param and r.target_type == target_type and r.target_id == target_id
                   for r in rows.references) and self._covers(self.state.current[key]):
                found.append((self.state.current[key], rows))
        return found


def _in_history(r: VersionRecord, q: HistoryQuery) -> bool:
    return (
        (q.resource_type is None or r.resource_type == q.resource_type)
        and (q.id is None or r.id == q.id)
        and (q.since is None or r.last_updated >= q.since)
        and (q.at is None or r.last_updated <= q.at)
        and (q.before_seq is None or r.seq < q.before_seq)
    )
