"""Re-linking the whole index at once (``ehr mpi link``): every source Patient is re-indexed, the
engine links the population in one pass (``Matcher.link_all``), and each cluster becomes one person.

Manual decisions still win: a manually linked record stays where the steward put it (an automatic
cluster holding it joins that golden record), and a record never joins a person it was called
``no-match`` with. Golden records are reused where a cluster already had one; probable pairs across
persons open review Tasks (once per pair). Everything happens in one unit of work.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from ehr.auth.boundary import Action
from ehr.errors import ServiceUnavailable
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.runner import execute
from ehr.mpi.golden import MPI_TENANT, sync_golden, sync_source
from ehr.mpi.linking import AUTO, new_golden, unwrap
from ehr.mpi.links import Link, LinkStore, link_store
from ehr.mpi.review import open_review
from ehr.search.query import SearchQuery
from ehr.store.protocol import Tx
from ehr.store.records import VersionRecord

Progress = Callable[[str, int, int], None]


@dataclass(frozen=True, slots=True)
class Summary:
    records: int
    persons: int
    #: records linked automatically to a golden record shared with another record
    auto_links: int
    #: review Tasks waiting for a steward
    reviews: int
    #: the match probability of every pair the engine compared
    scores: tuple[float, ...]

    def histogram(self, bins: int = 10) -> list[tuple[float, float, int]]:
        counts = Counter(min(int(s * bins), bins - 1) for s in self.scores)
        return [(i / bins, (i + 1) / bins, counts.get(i, 0)) for i in range(bins)]


def relink(ctx: Context, services: Services, tx: Tx, progress: Progress | None = None) -> Summary:
    matcher = services.matcher
    if matcher is None:
        raise ServiceUnavailable("No matching engine is installed, so the index cannot be linked.")
    tx = unwrap(tx)
    links = link_store(tx)
    patients = source_patients(tx)
    records = []
    for number, record in enumerate(patients, 1):
        features = matcher.features(orjson.loads(record.body or b"{}"), record.tenant)
        matcher.upsert(tx, record.id, features)
        records.append((record.id, features))
        if progress is not None:
            progress("indexing", number, len(patients))
    result = matcher.link_all(records)
    keys = [key for key, _ in records]
    goldens, sources = assign(links, keys, result.clusters)
    for pair in result.pairs:
        _review(ctx, services, tx, links, pair.left, pair.right, pair.probability, pair.grade)
    for number, source_id in enumerate(sorted(sources), 1):
        sync_source(ctx, services, tx, links, source_id)
        if progress is not None:
            progress("linking", number, len(sources))
    for golden_id in sorted(goldens):
        sync_golden(ctx, services, tx, links, golden_id)
    return _summary(links, keys, tuple(p.probability for p in result.pairs))


def run(ctx: Context, services: Services, progress: Progress | None = None) -> Summary:
    """:func:`relink` through the interaction runner (authorized, audited, one unit of work)."""
    out: list[Summary] = []

    def work(tx: Tx) -> Result:
        out.append(relink(ctx, services, tx, progress))
        return Result(200)

    execute(services, ctx, Action("operation:mpi-link", "Patient"), work, write=True)
    return out[0]


def source_patients(tx: Tx, page: int = 1000) -> list[VersionRecord]:
    """Every current hospital Patient (golden records left out), in store order."""
    out: list[VersionRecord] = []
    after = None
    while True:
        found = tx.search(SearchQuery("Patient", count=page, after=after))
        out.extend(r for r in found.records if r.body is not None and r.tenant != MPI_TENANT)
        if found.next_cursor is None:
            return out
        after = int(found.next_cursor)


def assign(links: LinkStore, keys: Sequence[str], clusters: Sequence[Sequence[str]]) -> tuple[set[str], set[str]]:
    """Link every automatically linked record to its cluster's golden record; returns the golden
    records and the sources whose links changed."""
    clustered = {k for c in clusters for k in c}
    groups = [sorted(c) for c in clusters] + [[k] for k in keys if k not in clustered]
    current = {link.source_id: link for link in links.all_links()}
    claimed = {x.golden_id for x in current.values() if x.origin == "manual"}
    goldens: set[str] = set()
    changed: set[str] = set()
    for group in groups:
        for key, golden_id in _split(links, group, current, claimed).items():
            old = current.get(key)
            if old is None or old.golden_id != golden_id:
                links.set_link(key, golden_id, "auto", AUTO)
                changed.add(key)
                goldens |= {golden_id} | ({old.golden_id} if old else set())
    return goldens, changed


def _split(links: LinkStore, group: list[str], current: dict[str, Link], claimed: set[str]) -> dict[str, str]:
    """The golden record of each automatically linked record of one cluster. The cluster's manually
    linked records anchor their golden records; each other record joins the first person it was not
    called ``no-match`` with, else starts a new one (reusing its golden record when no other
    cluster took it)."""
    persons: list[tuple[str, set[str]]] = []
    for golden_id in sorted({current[k].golden_id for k in group if k in current and current[k].origin == "manual"}):
        persons.append((golden_id, {x.source_id for x in links.members(golden_id) if x.origin == "manual"}))
    out: dict[str, str] = {}
    for key in group:
        if key in current and current[key].origin == "manual":
            continue
        refused = {o for p in links.pairs_of(key) if p.verdict == "no-match" for o in (p.low_id, p.high_id)} - {key}
        person = next((p for p in persons if not p[1] & refused), None)
        if person is None:
            old = current.get(key)
            golden_id = old.golden_id if old is not None and old.golden_id not in claimed else new_golden(links)
            claimed.add(golden_id)
            person = (golden_id, set())
            persons.append(person)
        person[1].add(key)
        out[key] = person[0]
    return out


def _review(ctx: Context, services: Services, tx: Tx, links: LinkStore, left: str, right: str,
            probability: float, grade: str) -> None:
    if grade != "probable" or links.pair(left, right) is not None:
        return
    a, b = links.link(left), links.link(right)
    if a is not None and b is not None and a.golden_id == b.golden_id:
        return
    task_id = open_review(ctx, services, tx, left, right, probability)
    links.set_pair(left, right, "review", "auto", AUTO, score=probability, task_id=task_id)


def _summary(links: LinkStore, keys: Sequence[str], scores: tuple[float, ...]) -> Summary:
    wanted = set(keys)
    rows = [x for x in links.all_links() if x.source_id in wanted]
    sizes = Counter(x.golden_id for x in rows)
    auto = sum(1 for x in rows if x.origin == "auto" and sizes[x.golden_id] > 1)
    return Summary(len(keys), len(sizes), auto, len(links.reviews()), scores)
