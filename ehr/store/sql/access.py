"""The caller's rights (:class:`ehr.auth.access.Access`) as SQL conditions on the rows of ``resources``
(or an alias of it) and ``resource_versions``, so every query of a restricted unit of work carries them
in its WHERE clause. The rules are in ``ehr.auth.access``; the in-memory twin is
``ehr.store.memory_access``.

Every condition is a few indexed predicates: ``tenant``, ``patient`` and ``res_type`` of the row
(``ix_resources_tenant_patient``), and for other hospitals' records a semi-join over ``mpi_links``
(``ix_mpi_links_golden``) to the caller's Patients or the launch patient.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import (
    BindParameter,
    ColumnElement,
    Connection,
    Dialect,
    FromClause,
    Integer,
    Select,
    String,
    and_,
    bindparam,
    exists,
    false,
    or_,
    select,
    true,
)

from ehr.auth.access import GOLDEN_TENANT, READ_LETTERS, Access, Grant
from ehr.mpi.link_tables import mpi_links
from ehr.search.sql import criterion_condition
from ehr.store.records import PendingWrite
from ehr.store.sql.schema import resource_versions, resources

Guard = Callable[[FromClause], ColumnElement[bool]]


def guard(access: Access, letters: str) -> Guard:
    """The condition rows of ``resources`` (or an alias) must meet to be seen with ``letters``."""
    return lambda r: visible(access, letters, r)


def visible(access: Access, letters: str, r: FromClause, *, criteria: bool = True) -> ColumnElement[bool]:
    """Rows of ``r`` some grant with one of ``letters`` covers (ORed over the grants); ``criteria``
    False leaves out granular criteria (rows of ``resource_versions``, which have no index rows)."""
    options: list[ColumnElement[bool]] = []
    for grant in access.for_letters(letters):
        parts: list[ColumnElement[bool]] = []
        if grant.resource_type != "*":
            parts.append(r.c.res_type == grant.resource_type)
        parts.append(_reach(access, grant, r))
        if criteria:
            parts.extend(criterion_condition(grant.resource_type, c, r) for c in grant.criteria)
        options.append(and_(*parts))
    return or_(false(), *options)


def version_visible(access: Access, letters: str, v: FromClause) -> ColumnElement[bool]:
    """Rows of ``resource_versions`` (``v``) that are visible themselves (tenant, patient) and whose
    resource's current version is visible (granular criteria are judged on it)."""
    current = resources.alias("current_version")
    return and_(visible(access, letters, v, criteria=False), exists().where(
        current.c.res_type == v.c.res_type, current.c.res_id == v.c.res_id, visible(access, letters, current)))


def _reach(access: Access, grant: Grant, r: FromClause) -> ColumnElement[bool]:
    """Which hospitals' and patients' rows the grant's level reaches."""
    c = r.c
    other = and_(c.tenant != access.tenant, c.tenant != GOLDEN_TENANT, c.patient.is_not(None))
    if grant.level == "patient":
        own = and_(c.tenant == access.tenant, _patient_or_shared(access, grant, r))
        if access.purpose is None:
            return own
        return or_(own, and_(other, c.patient.in_(_linked_to_patient(str(access.patient)))))
    own = c.tenant == access.tenant
    if access.steward:
        own = or_(own, c.tenant == GOLDEN_TENANT)
    if access.purpose is None:
        return own
    linked = true() if access.break_glass else c.patient.in_(linked_to_tenant(access.tenant))
    return or_(own, and_(other, linked))


def _patient_or_shared(access: Access, grant: Grant, r: FromClause) -> ColumnElement[bool]:
    """The launch patient's compartment, or a resource of a type outside the Patient compartment."""
    c = r.c
    mine = c.patient == access.patient
    if grant.resource_type == "*":
        shared = and_(c.patient.is_(None), c.res_type.not_in(sorted(access.compartment_types)))
        return or_(mine, shared)
    if grant.resource_type in access.compartment_types:
        return mine
    return c.patient.is_(None)


def linked_to_tenant(tenant: str) -> Select[Any]:
    """Source patients whose golden record also holds a Patient of ``tenant``."""
    a, b, p = mpi_links.alias("a"), mpi_links.alias("b"), resources.alias("linked_patient")
    return (select(a.c.source_id).select_from(a.join(b, a.c.golden_id == b.c.golden_id)
                                              .join(p, and_(p.c.res_type == "Patient", p.c.res_id == b.c.source_id)))
            .where(p.c.tenant == tenant))


def _linked_to_patient(patient: str) -> Select[Any]:
    """Source patients sharing the golden record of ``patient``."""
    a, b = mpi_links.alias("a"), mpi_links.alias("b")
    return select(a.c.source_id).select_from(a.join(b, a.c.golden_id == b.c.golden_id)).where(
        b.c.source_id == patient)


@dataclass(frozen=True, slots=True)
class Compiled:
    """A statement compiled once for one caller's rights: its SQL for the driver, and how to lay out
    its parameters (positional or named) given the values of its ``id``/``version`` placeholders."""

    sql: str
    params: dict[str, Any]
    positions: tuple[str, ...] | None

    def bind(self, **values: Any) -> tuple[Any, ...] | dict[str, Any]:
        merged = {**self.params, **values}
        return merged if self.positions is None else tuple(merged[name] for name in self.positions)


def _compile(stmt: Select[Any], dialect: Dialect) -> Compiled:
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = dict(compiled.params)
    positions = tuple(compiled.positiontup) if compiled.positional and compiled.positiontup is not None else None
    return Compiled(compiled.string, params, positions)


@functools.lru_cache(maxsize=4096)
def compiled_current(access: Access, resource_type: str, for_update: bool, dialect: Dialect) -> Compiled:
    """:func:`current_statement` compiled once per rights, type and dialect (its ``id`` bound at run
    time as ``rid``): a read by id then costs the driver call, not the statement's construction
    and compilation (the rights of one token recur on every request it makes)."""
    return _compile(current_statement(access, resource_type, bindparam("rid", "", type_=String), for_update=for_update),
                    dialect)


@functools.lru_cache(maxsize=4096)
def compiled_version(access: Access, resource_type: str, dialect: Dialect) -> Compiled:
    """:func:`version_statement` compiled once (``rid`` and ``vid`` bound at run time)."""
    return _compile(version_statement(access, resource_type, bindparam("rid", "", type_=String),
                                      bindparam("vid", 0, type_=Integer)), dialect)


def current_statement(access: Access, resource_type: str, id: str | BindParameter[str], *,
                      for_update: bool) -> Select[Any]:
    """The current version of one resource, when the caller may see it (columns as ``store._CURRENT``)."""
    c = resources.c
    stmt = select(c.res_type, c.res_id, c.tenant, c.version, c.last_updated, c.deleted, c.body, c.erased).where(
        c.res_type == resource_type, c.res_id == id, visible(access, READ_LETTERS, resources))
    return stmt.with_for_update(of=resources) if for_update else stmt


def version_statement(access: Access, resource_type: str, id: str | BindParameter[str],
                      version: int | BindParameter[int]) -> Select[Any]:
    """One version of a resource, when the caller may see it (columns as ``store._VERSION``)."""
    v = resource_versions.c
    return select(v.res_type, v.res_id, v.tenant, v.version, v.last_updated, v.deleted, v.body, v.erased,
                  v.method).where(v.res_type == resource_type, v.res_id == id, v.version == version,
                                  version_visible(access, READ_LETTERS, resource_versions))


def keep_patients(conn: Connection, writes: Sequence[PendingWrite]) -> Sequence[PendingWrite]:
    """Deletion markers keep the patient of the version they delete (so the same rights cover them)."""
    if not any(w.deleted and w.patient is None for w in writes):
        return writes
    c = resources.c
    out = []
    for w in writes:
        if w.deleted and w.patient is None:
            patient = conn.execute(select(c.patient).where(c.res_type == w.resource_type, c.res_id == w.id)).scalar()
            w = replace(w, patient=patient)
        out.append(w)
    return out
