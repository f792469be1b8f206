"""Compile a :class:`SearchQuery` into one SQL statement over the index tables.

Each criterion becomes ``resources.pk IN (SELECT pk FROM idx_<type> WHERE ...)`` (values ORed inside),
criteria are ANDed, and paging is keyset paging on ``resources.pk`` so pages stay stable while
others write. A chain (``subject:Patient.name=x``) nests the target's criterion in a subquery over an
alias of ``resources`` joined through ``idx_reference``; ``_has`` nests the referring resources' criterion
the other way round. Every level is an indexed ``IN`` lookup, never a scan of another type. A composite
value joins the component slots of one combination in ``idx_composite`` (the same element); a
compartment search restricts to resources whose compartment references point at the patient.
Prefixes (https://hl7.org/fhir/R4/search.html#prefix) are the conditions of ``ehr.search.prefixes``: on
dates both sides are the ranges their precision implies; a number or quantity is compared as the value
itself, against the search value's implicit range (``eq ne ap``) or the search value exactly.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any, assert_never

import orjson
from sqlalchemy import (
    ARRAY,
    ColumnElement,
    FromClause,
    Select,
    String,
    and_,
    any_,
    bindparam,
    exists,
    false,
    func,
    literal,
    not_,
    or_,
    select,
    true,
    union_all,
)
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.visitors import InternalTraversal

from ehr.search.paging import query_position, sort_column
from ehr.search.prefixes import number_condition, range_condition
from ehr.search.query import (
    Chain,
    Compartment,
    CompositePart,
    CompositeValue,
    Criterion,
    NumberValue,
    Position,
    RangeValue,
    ReferenceValue,
    Reverse,
    SearchQuery,
    SortKey,
    SortValue,
    StringValue,
    TokenValue,
    UriValue,
    Value,
)
from ehr.search.values.quantities import canonical_number
from ehr.search.values.references import uri_prefixes
from ehr.store.sql.schema import (
    idx_composite,
    idx_date,
    idx_number,
    idx_quantity,
    idx_reference,
    idx_string,
    idx_token,
    idx_uri,
    resources,
)

#: the condition rows of ``resources`` (or an alias of it) must also meet: the caller's rights
#: (``ehr.store.sql.access``), applied to the searched rows and to every chain target and ``_has`` referrer
Guard = Callable[[FromClause], ColumnElement[bool]]

_TABLES = {"token": idx_token, "string": idx_string, "reference": idx_reference, "date": idx_date,
           "number": idx_number, "quantity": idx_quantity, "uri": idx_uri}


def where_clause(query: SearchQuery, *, narrowed: bool = False, guard: Guard | None = None,
                 listed: Criterion | None = None) -> ColumnElement[bool]:
    """The WHERE condition selecting current, non-deleted resources that match every criterion
    (``narrowed``: the caller already keeps to the searched type) and meet the ``guard``. ``listed``
    (one of the criteria, PostgreSQL only): its matches are bound as one array (:func:`_listed`)."""
    conditions: list[ColumnElement[bool]] = [resources.c.deleted == false(), resources.c.erased == false()]
    if guard is not None:
        conditions.append(guard(resources))
    narrowed = narrowed or any(_narrows_type(c) for c in query.criteria)
    if query.resource_type is not None and not narrowed:
        conditions.append(resources.c.res_type == query.resource_type)
    if query.compartment is not None:
        conditions.append(_compartment(query.compartment))
    conditions.extend(_listed(query.resource_type, c) if c is listed
                      else _criterion(query.resource_type, c, resources, guard) for c in query.criteria)
    return and_(*conditions)


def candidates(query: SearchQuery) -> Criterion | None:
    """The criterion whose matches a probing ``_has`` (:func:`plan`) checks one by one, in key order,
    on PostgreSQL: the first index lookup that is not negated."""
    return next((c for c in query.criteria if simple(c) and c.modifier != "not"), None)


def _listed(resource_type: str | None, c: Criterion) -> ColumnElement[bool]:
    """``pk = ANY(ARRAY(matches of c))``: PostgreSQL reads such a key list through ``resources_pkey`` in
    key order, so a page whose other criteria are probes (``EXISTS``) stops after its last row. As
    ``pk IN (...)`` the matches come unordered, and every one of them is probed before the sort."""
    return resources.c.pk == any_(func.array(_matching_keys(resource_type, c).scalar_subquery()))


def _compartment(compartment: Compartment) -> ColumnElement[bool]:
    """Resources whose compartment parameters point at the patient (and the Patient itself)."""
    ref = idx_reference.c
    members = select(ref.pk).where(
        ref.target_type == "Patient", ref.target_id == compartment.patient_id,
        or_(false(), *(and_(ref.res_type == rtype, ref.param.in_(params)) for rtype, params in compartment.params)))
    found: list[ColumnElement[bool]] = [resources.c.pk.in_(members)]
    if any(rtype == "Patient" for rtype, _ in compartment.params):
        found.append(and_(resources.c.res_type == "Patient", resources.c.res_id == compartment.patient_id))
    return or_(*found)


def _narrows_type(c: Criterion) -> bool:
    """Whether ``c`` alone selects only resources of the searched type: an index lookup (its rows carry
    the type) that is neither negated nor ``:missing=true``. Then ``resources.res_type = ?`` is left out,
    so that neither engine walks every resource of the type in key order to probe the lookup (SQLite
    prefers the type index otherwise; the matches then come straight from the index subquery)."""
    if c.link is not None:
        return isinstance(c.link, Chain)
    return c.type not in ("id", "lastUpdated") and c.modifier != "not" and c.missing is not True


def driver(query: SearchQuery) -> Criterion | None:
    """A criterion whose index rows for its one exact value come out of their index in key order (the
    token index ends ``code, system, pk``, the reference index ``target_id, target_type, pk``): a token
    with a system and a code, or a typed reference."""
    if query.resource_type is None or query.sort:
        return None
    for c in query.criteria:
        if c.link is not None or c.modifier is not None or c.missing is not None or len(c.values) != 1:
            continue
        v = c.values[0]
        if isinstance(v, TokenValue) and c.type == "token" and v.code is not None and v.system:
            return c
        if isinstance(v, ReferenceValue) and v.target_id is not None and v.target_type is not None:
            return c
    return None


def _driven_page(query: SearchQuery, lead: Criterion, after: int | None, guard: Guard | None) -> Select[Any]:
    """The page read along ``lead``'s index and joined to ``resources``: it stops after ``count + 1``
    matches however many there are. A resource with two equal index rows for ``lead`` would come twice;
    the store then asks again with ``page_statement(query, drive=False)``."""
    table = _TABLES[lead.type].alias("lead")
    rest = replace(query, criteria=tuple(c for c in query.criteria if c is not lead))
    stmt = (select(resources).select_from(table.join(resources, resources.c.pk == table.c.pk))
            .where(table.c.res_type == query.resource_type, table.c.param == lead.param,
                   _value(table, lead, lead.values[0]), where_clause(rest, narrowed=True, guard=guard)))
    if after is not None:
        stmt = stmt.where(table.c.pk > after)
    return stmt.order_by(table.c.pk).limit(query.count + 1)


def page_statement(query: SearchQuery, *, drive: bool = True, guard: Guard | None = None,
                   targets: Sequence[tuple[str, str]] | None = None, lateral: bool = False) -> Select[Any]:
    """One page (plus one row, to tell whether more follow) in the result order. Rows of a sorted or
    backward page carry their sort values as ``s0``, ``s1``...; a backward page comes in reverse order.
    With ``drive``, an unsorted page is read along the index of its :func:`driver`, if it has one;
    with ``targets`` (those of its :func:`chain_lead`), along each target's referrers (``lateral``: in
    one lateral join, which PostgreSQL supports)."""
    position = query_position(query)
    if targets is not None:
        lead = chain_lead(query)
        assert lead is not None
        return _merged_page(query, lead, targets, None if position is None else position.pk, guard, lateral)
    if not query.sort and (position is None or not position.backward):
        lead = driver(query) if drive else None
        if lead is not None:
            return _driven_page(query, lead, None if position is None else position.pk, guard)
        probing = lateral and any(isinstance(c.link, Reverse) and c.link.probe for c in query.criteria)
        stmt = select(resources).where(where_clause(query, guard=guard, listed=candidates(query) if probing else None))
        if position is not None:
            stmt = stmt.where(resources.c.pk > position.pk)
        return stmt.order_by(resources.c.pk).limit(query.count + 1)
    values = [_sort_value(k).label(f"s{i}") for i, k in enumerate(query.sort)]
    inner = select(resources, *values).where(where_clause(query, guard=guard)).subquery()
    keys = [inner.c[f"s{i}"] for i in range(len(query.sort))]
    backward = position is not None and position.backward
    order = []
    for key, column in zip(query.sort, keys, strict=True):
        term = column.desc() if key.descending != backward else column.asc()
        order.append(term.nulls_first() if backward else term.nulls_last())
    order.append(inner.c.pk.desc() if backward else inner.c.pk.asc())
    stmt = select(inner)
    if position is not None:
        stmt = stmt.where(_beyond(keys, inner.c.pk, query.sort, position))
    return stmt.order_by(*order).limit(query.count + 1)


def _sort_value(key: SortKey) -> Any:
    """A resource's value of one sort key: a column, or its smallest (largest, descending) indexed value."""
    if key.type == "id":
        return resources.c.res_id
    if key.type == "lastUpdated":
        return resources.c.last_updated
    table = _TABLES[key.type]
    column = sort_column(key)
    pick = func.max if key.descending else func.min
    return (select(pick(table.c[column])).where(table.c.pk == resources.c.pk, table.c.param == key.param)
            .scalar_subquery())


def _beyond(keys: list[Any], pk: Any, sort: tuple[SortKey, ...], position: Position) -> ColumnElement[bool]:
    """Rows after ``position`` in the result order (before it, for a backward position); a missing
    value sorts after every present one."""
    options: list[ColumnElement[bool]] = []
    equal: list[ColumnElement[bool]] = []
    for key, column, value in zip(sort, keys, position.values, strict=True):
        options.append(and_(*equal, _past(column, value, key.descending, position.backward)))
        equal.append(column.is_(None) if value is None else column == value)
    options.append(and_(*equal, pk < position.pk if position.backward else pk > position.pk))
    return or_(*options)


def _past(column: Any, value: SortValue, descending: bool, backward: bool) -> ColumnElement[bool]:
    if value is None:
        return column.is_not(None) if backward else false()
    beyond = (column < value) if descending != backward else (column > value)
    return beyond if backward else or_(beyond, column.is_(None))


def count_statement(query: SearchQuery, guard: Guard | None = None) -> Select[Any]:
    return select(func.count()).select_from(resources).where(where_clause(query, guard=guard))


def criterion_condition(resource_type: str | None, c: Criterion, r: FromClause) -> ColumnElement[bool]:
    """The condition on the rows of ``r`` (``resources`` or an alias of it) that ``c`` selects (for a
    granular scope's criteria, ``ehr.store.sql.access``)."""
    return _criterion(resource_type, c, r, None)


def _criterion(resource_type: str | None, c: Criterion, r: FromClause, guard: Guard | None, *,
               probe: bool = False) -> ColumnElement[bool]:
    """The condition on the rows of ``r`` (``resources`` or an alias of it) that ``c`` selects; chain
    targets and ``_has`` referrers must meet ``guard`` too. ``probe``: an index lookup is written as a
    per-row ``EXISTS`` on the index table's key instead of ``pk IN (every match)``."""
    if isinstance(c.link, Chain):
        return _chain(resource_type, c.param, c.link, r, guard)
    if isinstance(c.link, Reverse):
        return _reverse(resource_type, c.link, r, guard)
    if c.type == "id":
        ids = [v.code for v in c.values if isinstance(v, TokenValue) and v.code and not v.system]
        return r.c.res_id.in_(ids)
    if c.type == "lastUpdated":
        if c.missing is not None:
            return false() if c.missing else true()
        column = r.c.last_updated
        return or_(*(_range(_micros(v), column, column) for v in c.values if isinstance(v, RangeValue)))
    if c.type == "composite":
        return _composite(resource_type, c, r)
    if probe and c.missing is None:
        table = _TABLES[c.type].alias()
        found = exists(select(1).where(table.c.pk == r.c.pk, table.c.param == c.param,
                                       *_by_key(table, resource_type), _matches(table, c)))
        return not_(found) if c.modifier == "not" else found
    table = _TABLES[c.type]
    scope = _scope(table, resource_type, c)
    if c.missing is not None:
        present = r.c.pk.in_(select(table.c.pk).where(*scope))
        return not_(present) if c.missing else present
    inner = r.c.pk.in_(_matching_keys(resource_type, c))
    return not_(inner) if c.modifier == "not" else inner


def _matching_keys(resource_type: str | None, c: Criterion) -> Select[Any]:
    """The keys of the resources whose index rows match ``c``, a :func:`simple` criterion."""
    table = _TABLES[c.type]
    return select(table.c.pk).where(*_scope(table, resource_type, c), _matches(table, c))


def _scope(table: Any, resource_type: str | None, c: Criterion) -> list[ColumnElement[bool]]:
    scope = [table.c.param == c.param]
    if resource_type is not None:
        scope.append(table.c.res_type == resource_type)
    return scope


def _matches(table: Any, c: Criterion) -> ColumnElement[bool]:
    return or_(false(), *(_value(table, c, v) for v in c.values))


class _Unindexed(ColumnElement[Any]):
    """A column that SQLite must not look up through an index (``+column``, its documented way); other
    engines see the plain column. It makes SQLite, which keeps no planner statistics here, read an index
    table by its resource key instead of walking the parameter's longer value index."""

    inherit_cache = True
    _traverse_internals = [("column", InternalTraversal.dp_clauseelement)]  # noqa: RUF012 (SQLAlchemy reads it)

    def __init__(self, column: ColumnElement[Any]) -> None:
        self.column = column
        self.type = column.type


@compiles(_Unindexed)
def _plain(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return str(compiler.process(element.column, **kw))


@compiles(_Unindexed, "sqlite")
def _plus(element: _Unindexed, compiler: Any, **kw: Any) -> str:
    return "+" + str(compiler.process(element.column, **kw))


def _by_key(table: Any, resource_type: str | None) -> list[ColumnElement[bool]]:
    """The type condition of a read of ``table`` (an index table or an alias) by its resource key."""
    return [] if resource_type is None else [_Unindexed(table.c.res_type) == resource_type]


def simple(c: Criterion) -> bool:
    """Whether ``c`` is one lookup in one index table (no link, no ``:missing``, no composite)."""
    return c.link is None and c.missing is None and c.type in _TABLES


#: a ``_has`` whose referrers' criterion matches more index rows than this is compiled as a probe per
#: candidate (:func:`plan`): collecting the targets of that many referrers first costs more than
#: probing candidates, which mostly stop at their first referrer
PROBE_ABOVE = 1000


def plan(query: SearchQuery, count: Callable[[Select[Any]], int], *, listed: bool = False) -> SearchQuery:
    """``query`` with each top-level ``_has`` of a :func:`simple` inner criterion marked as a probe when
    that criterion matches many index rows, counted (up to :data:`PROBE_ABOVE` + 1) with ``count``.
    SQLite walks the candidates in key order and stops at the end of the page. ``listed``
    (PostgreSQL): only a query with :func:`candidates` probes, which are then read as a key list in key
    order (``page_statement``); PostgreSQL's planner would otherwise probe every candidate before
    sorting them.
    The count ignores the caller's rights: it only picks the plan, and nothing of it is returned."""
    if listed and candidates(query) is None:
        return query
    criteria = []
    for c in query.criteria:
        if isinstance(c.link, Reverse) and simple(c.link.inner):
            has = c.link
            rows = _matching_keys(has.source_type, has.inner)
            many = count(select(func.count()).select_from(rows.limit(PROBE_ABOVE + 1).subquery())) > PROBE_ABOVE
            c = replace(c, link=replace(has, probe=many))
        criteria.append(c)
    return replace(query, criteria=tuple(criteria))


def _composite(resource_type: str | None, c: Criterion, r: FromClause) -> ColumnElement[bool]:
    """Rows of ``r`` with one combination (``combo``) whose every component (``slot``) matches: the
    slots of a value joined on the same resource, parameter and combination."""
    scope = [idx_composite.c.param == c.param]
    if resource_type is not None:
        scope.append(idx_composite.c.res_type == resource_type)
    if c.missing is not None:
        present = r.c.pk.in_(select(idx_composite.c.pk).where(*scope))
        return not_(present) if c.missing else present
    options: list[ColumnElement[bool]] = []
    for value in c.values:
        if not isinstance(value, CompositeValue):
            continue
        slots = [idx_composite.alias() for _ in value.parts]
        first = slots[0]
        joined: Any = first
        for n, slot in enumerate(slots[1:], start=1):
            joined = joined.join(slot, and_(slot.c.pk == first.c.pk, slot.c.param == first.c.param,
                                            slot.c.combo == first.c.combo, slot.c.slot == n))
        where = [first.c.param == c.param, first.c.slot == 0]
        if resource_type is not None:
            where.append(first.c.res_type == resource_type)
        where.extend(_part(slot, part) for slot, part in zip(slots, value.parts, strict=True))
        options.append(r.c.pk.in_(select(first.c.pk).select_from(joined).where(*where)))
    return or_(false(), *options)


def _part(table: Any, part: CompositePart) -> ColumnElement[bool]:
    """One component of a composite value against an ``idx_composite`` slot."""
    v = part.value
    if isinstance(v, TokenValue):
        return _token_code(table, v)
    if isinstance(v, StringValue):
        return table.c.norm.like(_like_prefix(v.norm), escape="\\")  # type: ignore[no-any-return]
    if isinstance(v, ReferenceValue):
        return _reference(table, v)
    if isinstance(v, RangeValue):
        return _range(v, table.c.date_low, table.c.date_high)
    if isinstance(v, NumberValue):
        return _quantity(table, v) if part.type == "quantity" else _number(v, table.c.low, table.c.high)
    if isinstance(v, UriValue):
        return table.c.uri == v.uri  # type: ignore[no-any-return]
    if isinstance(v, CompositeValue):
        return false()
    assert_never(v)


def _chain(resource_type: str | None, param: str, chain: Chain, r: FromClause,
           guard: Guard | None) -> ColumnElement[bool]:
    """Rows of ``r`` whose reference ``param`` points at a current target meeting the inner criterion."""
    ref = idx_reference.alias()
    targets = [and_(ref.c.target_type == target_type, ref.c.target_id.in_(matching))
               for target_type, matching in _chain_targets(chain, guard)]
    scope = [ref.c.param == param, or_(*targets)]
    if resource_type is not None:
        scope.append(ref.c.res_type == resource_type)
    return r.c.pk.in_(select(ref.c.pk).where(*scope))


def _chain_targets(chain: Chain, guard: Guard | None) -> list[tuple[str, Select[Any]]]:
    """Per target type, the ids of the current resources of that type meeting the chain's criterion."""
    found = []
    for target_type, inner in chain.targets:
        t = resources.alias()
        # an index lookup gives the targets' keys: SQLite would otherwise walk every resource of the type
        of_type = _Unindexed(t.c.res_type) if simple(inner) else t.c.res_type
        matching = select(t.c.res_id).where(of_type == target_type, t.c.deleted == false(),
                                            t.c.erased == false(), _criterion(target_type, inner, t, guard))
        if guard is not None:
            matching = matching.where(guard(t))
        found.append((target_type, matching))
    return found


#: above every resource key (64-bit): a target with fewer referrers than a page is read to its end
_LAST_KEY = 2**63 - 1

#: a chain with at most this many targets is read one target at a time (:func:`targets_statement`)
MERGE_TARGETS = 500


def chain_lead(query: SearchQuery) -> Criterion | None:
    """The chain an unsorted forward page without a :func:`driver` is read along, if it has one."""
    position = query_position(query)
    if query.resource_type is None or query.sort or (position is not None and position.backward):
        return None
    if driver(query) is not None:
        return None
    return next((c for c in query.criteria if isinstance(c.link, Chain)), None)


def targets_statement(lead: Criterion, guard: Guard | None) -> Select[Any]:
    """The (type, id) of the targets of the chain ``lead``, up to :data:`MERGE_TARGETS` + 1. With at
    most that many, the page is read along each target's referrers in key order (:func:`page_statement`
    with ``targets``), which stops after a page per target however many resources point at them."""
    assert isinstance(lead.link, Chain)
    parts = [select(literal(target_type).label("target_type"), matching.subquery().c.res_id.label("target_id"))
             for target_type, matching in _chain_targets(lead.link, guard)]
    both = parts[0] if len(parts) == 1 else union_all(*parts)
    return select(both.subquery()).limit(MERGE_TARGETS + 1)


def _merged_page(query: SearchQuery, lead: Criterion, targets: Sequence[tuple[str, str]], after: int | None,
                 guard: Guard | None, lateral: bool) -> Select[Any]:
    """The page of a chain read target by target: per target the first ``count + 1`` referrers (in key
    order, after ``after``) that meet the other criteria, then the first ``count + 1`` of them all. A
    resource pointing at two targets comes once. The targets are one bound list, so the statement has
    the same shape however many there are (and is built and compiled once): on PostgreSQL (``lateral``)
    one branch joined laterally to them; on SQLite, which has no lateral join, each target's bound (the
    key of its ``count + 1``-th referrer) is found first and its referrers are read up to it."""
    if not targets:
        return select(resources).where(false())
    rest = replace(query, criteria=tuple(c for c in query.criteria if c is not lead))
    own_row = bool(rest.criteria) or guard is not None or query.compartment is not None

    def referrers(target_type: Any, target_id: Any) -> tuple[Any, Select[Any]]:
        ref = idx_reference.alias()
        stmt = select(ref.c.pk).where(ref.c.res_type == query.resource_type, ref.c.param == lead.param,
                                      ref.c.target_id == target_id, ref.c.target_type == target_type)
        if own_row:  # index rows exist only for current resources: the row is read only for the rest
            stmt = stmt.join(resources, resources.c.pk == ref.c.pk).where(
                where_clause(rest, narrowed=True, guard=guard))
        if after is not None:
            stmt = stmt.where(ref.c.pk > after)
        return ref, stmt.order_by(ref.c.pk)

    if lateral:
        listed: Any = func.unnest(bindparam("target_types", [t for t, _ in targets], ARRAY(String)),
                                  bindparam("target_ids", [i for _, i in targets], ARRAY(String))).table_valued(
            "target_type", "target_id").render_derived(name="targets")
        each = referrers(listed.c.target_type, listed.c.target_id)[1].limit(query.count + 1).lateral()
        keys = select(each.c.pk).select_from(listed.join(each, true())).distinct().subquery()
    else:
        listed = func.json_each(bindparam("targets", orjson.dumps(list(targets)).decode())).table_valued(
            "value", name="targets")
        target_type, target_id = func.json_extract(listed.c.value, "$[0]"), func.json_extract(listed.c.value, "$[1]")
        # each target's first referrer; the page ends at or before the (count + 1)-th smallest of them, so
        # only targets whose first comes before that cap are read further, up to their (count + 1)-th
        first = referrers(target_type, target_id)[1].limit(1).scalar_subquery()
        firsts = (select(target_type.label("target_type"), target_id.label("target_id"), first.label("first"))
                  .select_from(listed).cte("firsts").prefix_with("MATERIALIZED"))
        cap = func.coalesce(select(firsts.c.first).where(firsts.c.first.is_not(None)).distinct()
                            .order_by(firsts.c.first).limit(1).offset(query.count).scalar_subquery(), _LAST_KEY)
        bound = referrers(firsts.c.target_type, firsts.c.target_id)[1].limit(1).offset(query.count)
        bounds = (select(firsts.c.target_type, firsts.c.target_id, bound.scalar_subquery().label("bound"))
                  .where(firsts.c.first <= cap).cte("bounds").prefix_with("MATERIALIZED"))
        ref, up_to = referrers(bounds.c.target_type, bounds.c.target_id)
        keys = (up_to.add_columns(bounds.c.bound)
                .where(ref.c.pk <= func.coalesce(bounds.c.bound, _LAST_KEY), ref.c.pk <= cap)
                .with_only_columns(ref.c.pk).distinct().subquery())
    return (select(resources).select_from(keys.join(resources, resources.c.pk == keys.c.pk))
            .order_by(keys.c.pk).limit(query.count + 1))


def _reverse(resource_type: str | None, has: Reverse, r: FromClause, guard: Guard | None) -> ColumnElement[bool]:
    """Rows of ``r`` that a current ``has.source_type`` resource meeting the inner criterion points at.
    Index rows exist only for current resources, so the referrer's own row is read only where the
    caller's rights or the inner criterion need it. ``has.probe``: each candidate row probes its own
    referrers (``EXISTS``), which stops at the first match; otherwise every matching referrer's target
    is collected first (cheap while they are few)."""
    ref = idx_reference.alias()
    needs_row = guard is not None or not simple(has.inner)
    source: Any = resources.alias() if needs_row else ref
    pinned = simple(has.inner) and not has.probe  # read along the inner matches' keys
    # a simple inner criterion needs only the key, which the index row has: the referrer's row is then
    # read (for the rights) only for referrers that match it
    where = [*(_by_key(ref, has.source_type) if pinned else [ref.c.res_type == has.source_type]),
             ref.c.param == has.param, ref.c.target_type == resource_type,
             _criterion(has.source_type, has.inner, ref if simple(has.inner) else source, guard, probe=has.probe)]
    if needs_row:
        where += [source.c.pk == ref.c.pk, source.c.deleted == false(), source.c.erased == false()]
        if guard is not None:
            where.append(guard(source))
    if has.probe:
        return exists(select(1).select_from(ref if not needs_row else ref.join(source, source.c.pk == ref.c.pk))
                      .where(ref.c.target_id == r.c.res_id, *where))
    referring = select(ref.c.target_id).select_from(ref if not needs_row else ref.join(source, source.c.pk == ref.c.pk))
    return r.c.res_id.in_(referring.where(*where))


def _value(table: Any, c: Criterion, v: Value) -> ColumnElement[bool]:
    if isinstance(v, TokenValue):
        return _token_code(table, v)
    if isinstance(v, StringValue):
        return _string(table, c, v)
    if isinstance(v, ReferenceValue):
        return _reference(table, v)
    if isinstance(v, RangeValue):
        return _range(_micros(v), table.c.low, table.c.high)
    if isinstance(v, NumberValue):
        return _quantity(table, v) if c.type == "quantity" else _number(v, table.c.low, table.c.high)
    if isinstance(v, UriValue):
        return _uri(table, c, v)
    if isinstance(v, CompositeValue):
        return false()
    assert_never(v)


def _uri(table: Any, c: Criterion, v: UriValue) -> ColumnElement[bool]:
    """``:below``: the URI or any under it (``v/...``); ``:above``: the URI or any path prefix of it
    (https://hl7.org/fhir/R4/search.html#uri)."""
    if c.modifier == "below":
        base = v.uri.rstrip("/")
        return or_(table.c.uri == v.uri, table.c.uri == base,
                   table.c.uri.like(_like_prefix(base + "/"), escape="\\"))
    if c.modifier == "above":
        return table.c.uri.in_(uri_prefixes(v.uri))  # type: ignore[no-any-return]
    return table.c.uri == v.uri  # type: ignore[no-any-return]


def _token_code(table: Any, v: TokenValue) -> ColumnElement[bool]:
    parts: list[ColumnElement[bool]] = []
    if v.code is not None:
        parts.append(table.c.code == v.code)
    if v.system == "":
        parts.append(table.c.system.is_(None))
    elif v.system is not None:
        parts.append(table.c.system == v.system)
    return and_(*parts) if parts else true()


def _string(table: Any, c: Criterion, v: StringValue) -> ColumnElement[bool]:
    if c.modifier == "exact":
        return table.c.exact == v.exact  # type: ignore[no-any-return]
    if c.modifier == "contains":
        return table.c.norm.like("%" + _like_prefix(v.norm), escape="\\")  # type: ignore[no-any-return]
    return _starts_with(table.c.norm, v.norm)


def _starts_with(column: Any, prefix: str) -> ColumnElement[bool]:
    """``column`` starts with ``prefix``: as a LIKE, and as the range of code points those strings lie in
    (``idx_string.norm`` is ordered by code point on both engines), which its index reads directly
    (https://hl7.org/fhir/R4/search.html#string: equals or starts with, after folding)."""
    like = column.like(_like_prefix(prefix), escape="\\")
    if not prefix:
        return like  # type: ignore[no-any-return]
    upper = prefix_upper_bound(prefix)
    bounds = [column >= prefix] if upper is None else [column >= prefix, column < upper]
    return and_(*bounds, like)


def prefix_upper_bound(prefix: str) -> str | None:
    """The least string above every string that starts with ``prefix``, in code point order: ``prefix``
    with its last character that can be incremented incremented (and what follows it dropped); None when
    there is none (``prefix`` is all U+10FFFF). Surrogates, which no stored string holds, are skipped."""
    for end in range(len(prefix) - 1, -1, -1):
        point = ord(prefix[end]) + 1
        if point <= 0x10FFFF:
            return prefix[:end] + chr(0xE000 if 0xD800 <= point <= 0xDFFF else point)
    return None


def _reference(table: Any, v: ReferenceValue) -> ColumnElement[bool]:
    if v.target_id is None:
        return table.c.url == v.url  # type: ignore[no-any-return]
    parts = [table.c.target_id == v.target_id]
    if v.target_type is not None:
        parts.append(table.c.target_type == v.target_type)
    return and_(*parts)


def _quantity(table: Any, v: NumberValue) -> ColumnElement[bool]:
    """As written (same system and unit), or in canonical UCUM units when both sides convert."""
    plain = [_number(v, table.c.low, table.c.high)]
    if v.system is not None:
        plain.append(table.c.system == v.system)
    if v.code is not None:
        plain.append(table.c.code == v.code)
    canonical = canonical_number(v)
    if canonical is None:
        return and_(*plain)
    code, value = canonical
    converted = _number(value, table.c.canonical_low, table.c.canonical_high)
    return or_(and_(*plain), and_(table.c.canonical_code == code, converted))


def _micros(v: RangeValue) -> RangeValue:
    """A date value with whole microseconds, as the columns hold them: compared with a float, PostgreSQL
    casts the bigint column instead, and no index on it can be used."""
    return replace(v, low=int(v.low), high=int(v.high))


def _range(v: RangeValue, low: Any, high: Any) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = range_condition(v, low, high, and_, or_)
    return condition


def _number(v: NumberValue, low: Any, high: Any) -> ColumnElement[bool]:
    condition: ColumnElement[bool] = number_condition(v, low, high, and_, or_)
    return condition


def _like_prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"
