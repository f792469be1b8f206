"""The in-memory twin of ``ehr.search.sql``: the same matching rules over :class:`IndexRows`.

Used by the in-memory store for fast unit tests; the SQL engines are the production path.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Protocol, assert_never

from ehr.search.index_rows import IndexRows
from ehr.search.paging import sort_column
from ehr.search.prefixes import number_condition, range_condition
from ehr.search.query import (
    Chain,
    Compartment,
    CompositeValue,
    Criterion,
    NumberValue,
    RangeValue,
    ReferenceValue,
    Reverse,
    SearchQuery,
    SortKey,
    SortValue,
    StringValue,
    TokenValue,
    UriValue,
)
from ehr.search.values.quantities import canonical_number
from ehr.search.values.references import uri_prefixes
from ehr.store.records import VersionRecord

_FIELDS = {"token": "tokens", "string": "strings", "reference": "references", "date": "dates",
           "number": "numbers", "quantity": "quantities", "uri": "uris"}


class Graph(Protocol):
    """The other resources a chain or ``_has`` looks at: current versions with their index rows."""

    def resolve(self, resource_type: str, id: str) -> tuple[VersionRecord, IndexRows] | None: ...

    def referrers(self, source_type: str, param: str, target_type: str,
                  target_id: str) -> Iterable[tuple[VersionRecord, IndexRows]]: ...


def matches(query: SearchQuery, record: VersionRecord, rows: IndexRows, graph: Graph) -> bool:
    if record.deleted:
        return False
    if query.resource_type is not None and record.resource_type != query.resource_type:
        return False
    if query.compartment is not None and not in_compartment(query.compartment, record, rows):
        return False
    return all(_criterion(c, record, rows, graph) for c in query.criteria)


def in_compartment(compartment: Compartment, record: VersionRecord, rows: IndexRows) -> bool:
    """The in-memory twin of ``ehr.search.sql._compartment``."""
    params = dict(compartment.params)
    if record.resource_type not in params:
        return False
    if record.resource_type == "Patient" and record.id == compartment.patient_id:
        return True
    wanted = params[record.resource_type]
    return any(r.param in wanted and r.target_type == "Patient" and r.target_id == compartment.patient_id
               for r in rows.references)


def _criterion(c: Criterion, record: VersionRecord, rows: IndexRows, graph: Graph) -> bool:
    if isinstance(c.link, Chain):
        return _chain(c.param, c.link, rows, graph)
    if isinstance(c.link, Reverse):
        has = c.link
        return any(not source.deleted and _criterion(has.inner, source, source_rows, graph)
                   for source, source_rows in graph.referrers(has.source_type, has.param, record.resource_type,
                                                              record.id))
    if c.type == "id":
        return any(isinstance(v, TokenValue) and not v.system and v.code == record.id for v in c.values)
    if c.type == "lastUpdated":
        point = float(record.last_updated)
        return c.missing is not True and any(
            in_range(v, point, point) for v in c.values if isinstance(v, RangeValue))
    if c.type == "composite":
        return _composite(c, rows)
    items = [r for r in getattr(rows, _FIELDS[c.type]) if r.param == c.param]
    if c.missing is not None:
        return (not items) if c.missing else bool(items)
    hit = any(_value(c, v, item) for item in items for v in c.values)
    return not hit if c.modifier == "not" else hit


def sort_value(key: SortKey, record: VersionRecord, rows: IndexRows) -> SortValue:
    """The in-memory twin of ``ehr.search.sql._sort_value``."""
    if key.type == "id":
        return record.id
    if key.type == "lastUpdated":
        return record.last_updated
    column = sort_column(key)
    values = [getattr(r, column) for r in getattr(rows, _FIELDS[key.type]) if r.param == key.param]
    values = [v for v in values if v is not None]
    if not values:
        return None
    return max(values) if key.descending else min(values)  # type: ignore[no-any-return]


def _composite(c: Criterion, rows: IndexRows) -> bool:
    """One combination of the parameter whose every component matches its part of a value."""
    combos = [r for r in rows.composites if r.param == c.param]
    if c.missing is not None:
        return (not combos) if c.missing else bool(combos)
    return any(
        len(row.components) == len(v.parts)
        and all(_value(Criterion(p.param, p.type, None, (p.value,)), p.value, item)
                for p, item in zip(v.parts, row.components, strict=True))
        for row in combos for v in c.values if isinstance(v, CompositeValue))


def _chain(param: str, chain: Chain, rows: IndexRows, graph: Graph) -> bool:
    inner = dict(chain.targets)
    for item in rows.references:
        if item.param != param or item.target_type not in inner or item.target_id is None:
            continue
        found = graph.resolve(item.target_type, item.target_id)
        if found is not None and not found[0].deleted and _criterion(inner[item.target_type], *found, graph):
            return True
    return False


def _value(c: Criterion, v: Any, item: Any) -> bool:
    if isinstance(v, TokenValue):
        return (v.code is None or item.code == v.code) and (
            v.system is None or (item.system is None if v.system == "" else item.system == v.system))
    if isinstance(v, StringValue):
        if c.modifier == "exact":
            return bool(item.exact == v.exact)
        if c.modifier == "contains":
            return v.norm in item.norm
        return bool(item.norm.startswith(v.norm))
    if isinstance(v, ReferenceValue):
        if v.target_id is None:
            return bool(item.url == v.url)
        return bool(item.target_id == v.target_id and v.target_type in (None, item.target_type))
    if isinstance(v, RangeValue):
        return in_range(v, float(item.low), float(item.high))
    if isinstance(v, NumberValue):
        return _quantity(v, item) if c.type == "quantity" else in_number(v, float(item.low), float(item.high))
    if isinstance(v, UriValue):
        return _uri(c, v, item.uri)
    if isinstance(v, CompositeValue):
        return False
    assert_never(v)


def _uri(c: Criterion, v: UriValue, uri: str) -> bool:
    """The in-memory twin of ``ehr.search.sql._uri``."""
    if c.modifier == "below":
        base = v.uri.rstrip("/")
        return uri in (v.uri, base) or uri.startswith(base + "/")
    if c.modifier == "above":
        return uri in uri_prefixes(v.uri)
    return uri == v.uri


def _quantity(v: NumberValue, item: Any) -> bool:
    plain = (v.system is None or item.system == v.system) and (v.code is None or item.code == v.code)
    if plain and in_number(v, float(item.low), float(item.high)):
        return True
    canonical = canonical_number(v)
    return (canonical is not None and item.canonical_code == canonical[0] and item.canonical_low is not None
            and in_number(canonical[1], float(item.canonical_low), float(item.canonical_high)))


def in_range(v: RangeValue, low: float, high: float) -> bool:
    return bool(range_condition(v, low, high, lambda *c: all(c), lambda *c: any(c)))


def in_number(v: NumberValue, low: float, high: float) -> bool:
    return bool(number_condition(v, low, high, lambda *c: all(c), lambda *c: any(c)))
