"""The in-memory twin of ``ehr.store.sql.access``: the caller's rights (:class:`ehr.auth.access.Access`)
as a predicate on a stored resource (its tenant, patient and index rows), and the check of a new
version's content both stores run before they write (rules: ``ehr.auth.access``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ehr.auth.access import GOLDEN_TENANT, Access, Grant
from ehr.errors import Forbidden
from ehr.search.index_rows import IndexRows
from ehr.search.memory import Graph, matches
from ehr.search.query import SearchQuery
from ehr.store.records import PendingWrite, VersionRecord


@dataclass(frozen=True, slots=True)
class Row:
    """What the rules look at of a stored resource."""

    resource_type: str
    tenant: str
    patient: str | None


@dataclass(frozen=True, slots=True)
class Links:
    """The master patient index as the rules need it: each source Patient's golden record, and the
    tenant of each Patient."""

    golden: Mapping[str, str]
    patient_tenant: Mapping[str, str]

    def linked_to_tenant(self, tenant: str) -> frozenset[str]:
        goldens = {g for s, g in self.golden.items() if self.patient_tenant.get(s) == tenant}
        return frozenset(s for s, g in self.golden.items() if g in goldens)

    def linked_to_patient(self, patient: str) -> frozenset[str]:
        golden = self.golden.get(patient)
        return frozenset(s for s, g in self.golden.items() if golden is not None and g == golden)


NO_LINKS = Links({}, {})


class NoGraph:
    """No other resources: granular criteria with chains match nothing on a new version."""

    def resolve(self, resource_type: str, id: str) -> tuple[VersionRecord, IndexRows] | None:
        return None

    def referrers(self, source_type: str, param: str, target_type: str,
                  target_id: str) -> Iterable[tuple[VersionRecord, IndexRows]]:
        return ()


def covered(access: Access, letters: str, row: Row, record: VersionRecord, rows: IndexRows, graph: Graph,
            links: Links, *, criteria: bool = True) -> bool:
    """Whether some grant with one of ``letters`` covers the stored resource (twin of ``visible``;
    ``criteria`` False leaves out granular criteria)."""
    return any(g.resource_type in ("*", row.resource_type) and _reach(access, g, row, links)
               and (not criteria or _meets(g, record, rows, graph)) for g in access.for_letters(letters))


def _meets(grant: Grant, record: VersionRecord, rows: IndexRows, graph: Graph) -> bool:
    if not grant.criteria:
        return True
    return matches(SearchQuery(record.resource_type, grant.criteria), record, rows, graph)


def _reach(access: Access, grant: Grant, row: Row, links: Links) -> bool:
    other = row.tenant not in (access.tenant, GOLDEN_TENANT) and row.patient is not None
    if grant.level == "patient":
        own = row.tenant == access.tenant and _patient_or_shared(access, grant, row)
        return own or (access.purpose is not None and other
                       and row.patient in links.linked_to_patient(str(access.patient)))
    own = row.tenant == access.tenant or (access.steward and row.tenant == GOLDEN_TENANT)
    if own or access.purpose is None or not other:
        return own
    return access.break_glass or row.patient in links.linked_to_tenant(access.tenant)


def _patient_or_shared(access: Access, grant: Grant, row: Row) -> bool:
    if row.patient is not None and row.patient == access.patient:
        return True
    if grant.resource_type == "*":
        return row.patient is None and row.resource_type not in access.compartment_types
    return grant.resource_type not in access.compartment_types and row.patient is None


def letter_of(w: PendingWrite) -> str:
    """The permission letter a write needs: ``d`` a deletion, ``c`` a new resource, ``u`` a change."""
    if w.deleted:
        return "d"
    return "c" if w.expected_version is None else "u"


def check_content(access: Access, writes: Sequence[PendingWrite]) -> None:
    """Refuse (403) a write outside the caller's hospital, or a new version no grant with the write's
    letter covers (the launch patient's compartment, the granular criteria)."""
    for w in writes:
        if w.tenant != access.tenant:
            raise Forbidden(f"{w.resource_type}/{w.id} would be written into another hospital; a client writes "
                            "only into its own hospital.")
        if w.deleted:
            continue
        record = VersionRecord(w.resource_type, w.id, w.version, w.last_updated, w.tenant, False, w.method, w.body)
        row = Row(w.resource_type, w.tenant, w.patient)
        if not covered(access, letter_of(w), row, record, w.index or IndexRows(), NoGraph(), NO_LINKS):
            raise Forbidden(refusal(w))


def refusal(w: PendingWrite) -> str:
    return (f"The granted scopes do not allow this {_VERB[letter_of(w)]} of {w.resource_type}/{w.id} (scope "
            "letter, patient in context or scope criteria); ask for a scope that covers it.")


_VERB = {"c": "create", "u": "update", "d": "delete"}
