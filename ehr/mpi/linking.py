"""Online linking: every Patient a unit of work writes is matched against the index before it is
stored, in the same transaction (create, update, patch, conditional forms, batch and transaction
entries, ``ehr import``; they all write through :meth:`LinkingTx.write`).

- ``certain``: linked automatically to the person's golden record (a new one when the record matches
  nobody), and the source Patient is stored with its ``seealso`` link, so the write creates no extra
  version;
- ``probable``: a review Task for a data steward (once per pair);
- ``possible`` and below: nothing.

Manual decisions win: a record a steward linked, unlinked or merged keeps its golden record
whatever later writes look like, and a pair a steward called ``no-match`` is never linked
automatically. Golden records (tag ``GOLDEN_RECORD``, tenant ``mpi``) are never matched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import orjson

from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.writes import new_id
from ehr.mpi.golden import MPI_TENANT, is_golden, live, sync_golden, sync_source, with_golden_link
from ehr.mpi.links import LinkStore, link_store
from ehr.mpi.protocol import Matcher, MatchLike
from ehr.mpi.review import open_review
from ehr.search.query import SearchQuery
from ehr.store.protocol import HistoryQuery, SearchPage, Tx
from ehr.store.records import PendingWrite, VersionRecord

CANDIDATES = 10
AUTO = "mpi-auto"


@dataclass(slots=True)
class Effects:
    """What linking changed besides the Patient itself: golden records and other sources to rewrite,
    and review Tasks to open once the Patient is stored."""

    goldens: set[str] = field(default_factory=set)
    sources: set[str] = field(default_factory=set)
    reviews: list[tuple[str, str, float]] = field(default_factory=list)


def run_linked(services: Services, ctx: Context, tx: Tx, fn: Callable[[Tx], Result]) -> Result:
    """Run a write interaction with online linking when the service has a matcher."""
    if services.matcher is None:
        return fn(tx)
    return fn(LinkingTx(tx, ctx, services, services.matcher))


def unwrap(tx: Tx) -> Tx:
    """The plain unit of work under a :class:`LinkingTx` (index maintenance writes through it)."""
    return tx.inner if isinstance(tx, LinkingTx) else tx


class LinkingTx:
    """A unit of work that links the Patients written through it; everything else is delegated."""

    def __init__(self, inner: Tx, ctx: Context, services: Services, matcher: Matcher[Any]) -> None:
        #: ``inner`` sees what the caller may see; the linking itself reads and writes unrestricted
        #: (other hospitals' Patients, golden records), once the caller's writes passed its rights
        self.restricted = inner
        self.access = inner.access
        self.inner = inner.with_access(None)
        self.ctx, self.services, self.matcher = ctx, services, matcher
        self.conn = getattr(inner, "conn", None)

    def with_access(self, access: Any) -> Tx:
        return LinkingTx(self.inner.with_access(access), self.ctx, self.services, self.matcher)

    def write(self, writes: Sequence[PendingWrite]) -> list[VersionRecord]:
        if not any(w.resource_type == "Patient" for w in writes):
            return self.restricted.write(writes)
        check = getattr(self.restricted, "check_writes", None)
        if check is not None:
            check(writes)
        links, effects = link_store(self.inner), Effects()
        prepared = [self._prepare(w, links, effects) for w in writes]
        records = self.inner.write(prepared)
        for source_id, candidate_id, probability in effects.reviews:
            task_id = open_review(self.ctx, self.services, self.inner, source_id, candidate_id, probability)
            links.set_pair(source_id, candidate_id, "review", "auto", AUTO, score=probability, task_id=task_id)
        written = {w.id for w in writes if w.resource_type == "Patient"}
        for source_id in sorted(effects.sources - written):
            sync_source(self.ctx, self.services, self.inner, links, source_id)
        for golden_id in sorted(effects.goldens):
            sync_golden(self.ctx, self.services, self.inner, links, golden_id)
        return records

    def _prepare(self, w: PendingWrite, links: LinkStore, effects: Effects) -> PendingWrite:
        if w.resource_type != "Patient" or w.tenant == MPI_TENANT:
            return w
        if w.deleted or w.body is None:
            self.matcher.remove(self.inner, w.id)
            previous = links.link(w.id)
            if previous is not None:
                links.drop_link(w.id)
                effects.goldens.add(previous.golden_id)
            return w
        resource: dict[str, Any] = orjson.loads(w.body)
        if is_golden(resource):
            return w
        record = self.matcher.features(resource, w.tenant)
        golden_id = decide(self.inner, links, self.matcher, w.id, record, effects)
        self.matcher.upsert(self.inner, w.id, record)
        linked = with_golden_link(resource, golden_id, links)
        body = orjson.dumps(linked)
        return replace(w, body=body, index=self.services.indexer(linked))

    # the rest of Tx, delegated
    def current(self, resource_type: str, id: str, *, for_update: bool = False) -> VersionRecord | None:
        return self.restricted.current(resource_type, id, for_update=for_update)

    def version(self, resource_type: str, id: str, version: int) -> VersionRecord | None:
        return self.restricted.version(resource_type, id, version)

    def history(self, query: HistoryQuery) -> list[VersionRecord]:
        return self.restricted.history(query)

    def search(self, query: SearchQuery) -> SearchPage:
        return self.restricted.search(query)

    def read_many(self, keys: Sequence[tuple[str, str]]) -> list[VersionRecord]:
        return self.restricted.read_many(keys)

    def outgoing(self, keys: Sequence[tuple[str, str]], param: str | None) -> list[tuple[str, str]]:
        return self.restricted.outgoing(keys, param)

    def incoming(self, source_type: str | None, param: str | None, targets: Sequence[tuple[str, str]],
                 limit: int) -> list[VersionRecord]:
        return self.restricted.incoming(source_type, param, targets, limit)

    def lock(self, key: str) -> None:
        self.inner.lock(key)

    def imported(self, key: str) -> bool:
        return self.inner.imported(key)

    def record_import(self, key: str) -> None:
        self.inner.record_import(key)


def decide(tx: Tx, links: LinkStore, matcher: Matcher[Any], source_id: str, record: Any,
           effects: Effects) -> str:
    """The golden record ``source_id`` belongs to after this write, recording the automatic link and
    noting the probable pairs to review. A manual link is kept as it is."""
    current = links.link(source_id)
    if current is not None and current.origin == "manual":
        effects.goldens.add(current.golden_id)
        return current.golden_id
    found = [m for m in matcher.match(tx, record, count=CANDIDATES) if m.key != source_id]
    certain = [(m, g) for m in found if m.grade == "certain" and (g := golden_of(tx, links, m.key, effects))]
    allowed = [(m, g) for m, g in certain if not links.refused(source_id, g)]
    golden_id, score = _choose(links, source_id, current.golden_id if current else None, allowed)
    if current is None or current.golden_id != golden_id or current.score != score:
        links.set_link(source_id, golden_id, "auto", AUTO, score)
    if current is not None and current.golden_id != golden_id:
        effects.goldens.add(current.golden_id)
    effects.goldens.add(golden_id)
    for m in found:
        if m.grade == "probable" and links.pair(source_id, m.key) is None and live(tx, m.key) is not None:
            other = links.link(m.key)
            if other is None or other.golden_id != golden_id:
                effects.reviews.append((source_id, m.key, m.probability))
    return golden_id


def _choose(links: LinkStore, source_id: str, current: str | None,
            allowed: list[tuple[MatchLike, str]]) -> tuple[str, float | None]:
    """Keep the current golden record while a certain match supports it (or the record is alone in
    it); else join the best certain match's; else a new golden record of its own."""
    for m, g in allowed:
        if g == current:
            return g, m.probability
    if allowed:
        m, g = allowed[0]
        return g, m.probability
    if current is not None and all(x.source_id == source_id for x in links.members(current)):
        return current, None
    return new_golden(links), None


def golden_of(tx: Tx, links: LinkStore, key: str, effects: Effects) -> str | None:
    """The golden record of the indexed record ``key``; one is made for a live record that has none
    (a Patient stored before linking was on). None when ``key`` is no live source Patient here."""
    link = links.link(key)
    if link is not None:
        return link.golden_id
    record = live(tx, key)
    if record is None or record.tenant == MPI_TENANT:
        return None
    golden_id = new_golden(links)
    links.set_link(key, golden_id, "auto", AUTO)
    effects.sources.add(key)
    effects.goldens.add(golden_id)
    return golden_id


def new_golden(links: LinkStore) -> str:
    golden_id = new_id()
    links.add_golden(golden_id)
    return golden_id
