"""``ehr reindex``: rebuild the search index rows of every current resource, after a registry change
(new or changed SearchParameters, a new index table) or to repair the index.

Resources are taken in key order, in batches; each batch is one transaction that locks its resources
(PostgreSQL ``FOR UPDATE``; SQLite's write lock), reads and opens their current bodies, replaces all of
their index rows with freshly extracted ones, and records the last key done in ``reindex_progress``.
So the server can keep running: a concurrent update of a resource in the batch waits for the batch
and then writes its own rows, and searches see either the old or the new rows of a resource, never a
mix. An interrupted run continues after its last finished batch; a run that completes removes its
progress row, so the next run starts from the beginning.

A complete run over every type also records, in ``search_index_version``, that the rows are those of this
code's extraction (``ehr.search.extract.EXTRACTION_VERSION``). When extraction changes what rows mean,
that version is raised: :func:`built_with` then reports the older one, and ``ehr serve`` runs ``ehr
reindex`` before it starts serving (``ehr.cli.reindex.rebuild_outdated_index``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, delete, func, insert, select, true, update

from ehr.errors import Erased
from ehr.search.extract import EXTRACTION_VERSION
from ehr.search.index_rows import IndexRows
from ehr.store.records import now_us
from ehr.store.sql.schema import reindex_progress, resources, search_index_version
from ehr.store.sql.store import SqlStore, SqlTx, file_lock

Indexer = Callable[[dict[str, Any]], IndexRows]


@dataclass(frozen=True, slots=True)
class Batch:
    """One committed batch: the keys of the resources whose rows were rebuilt (or removed, for
    deleted ones), and the last key covered."""

    pks: tuple[int, ...]
    last_pk: int


@dataclass(frozen=True, slots=True)
class Plan:
    """Where a run stands before it starts: the key it resumes after, and the resources left."""

    run: str
    after: int
    remaining: int


def run_name(resource_type: str | None) -> str:
    return resource_type or "*"


def plan(store: SqlStore, resource_type: str | None) -> Plan:
    """The run for ``resource_type`` (every type when None): resumed where an interrupted one stopped."""
    run = run_name(resource_type)
    with store.unit_of_work(write=False) as tx:
        after = tx.conn.execute(select(reindex_progress.c.last_pk).where(reindex_progress.c.run == run)).scalar()
        start = int(after or 0)
        remaining = tx.conn.execute(select(func.count()).select_from(resources)
                                    .where(_scope(resource_type), resources.c.pk > start)).scalar_one()
    return Plan(run, start, int(remaining))


def built_with(store: SqlStore) -> int:
    """The extraction version the stored index rows were built with (1, the first, where none is recorded)."""
    with store.unit_of_work(write=False) as tx:
        found = tx.conn.execute(select(func.max(search_index_version.c.extraction))).scalar()
    return int(found or 1)


#: PostgreSQL session advisory lock of the start-up rebuild (two-key form, apart from the audit chain's)
_REBUILD_LOCK = (0x45485200, 2)


@contextmanager
def one_rebuild_at_a_time(store: SqlStore) -> Iterator[None]:
    """Held while a server rebuilds an outdated index at start: a second server starting meanwhile
    (another host on PostgreSQL, another ``ehr serve`` on the same SQLite file) waits, then finds the
    index current (:func:`built_with`) instead of redoing the rebuild beside the first. PostgreSQL: a
    session advisory lock on a connection of its own; SQLite: a kernel file lock beside the database."""
    if store.engine.dialect.name == "postgresql":
        # autocommit: the connection waits idle, not in a transaction that would hold back vacuum
        with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.exec_driver_sql("SELECT pg_advisory_lock(%s, %s)", _REBUILD_LOCK)
            try:
                yield
            finally:
                conn.exec_driver_sql("SELECT pg_advisory_unlock(%s, %s)", _REBUILD_LOCK)
        return
    database = store.engine.url.database
    if not database or database == ":memory:":
        yield
        return
    with file_lock(Path(f"{database}.rebuild-lock")):
        yield


def reindex(store: SqlStore, indexer: Indexer, resource_type: str | None, batch: int = 500) -> Iterator[Batch]:
    """Rebuild the index rows of the resources of ``resource_type`` (every type when None), one
    committed batch at a time, resuming an interrupted run; yields each batch once it is committed."""
    run = run_name(resource_type)
    after = plan(store, resource_type).after
    while True:
        with store.unit_of_work(write=True) as tx:
            done = _batch(tx, indexer, resource_type, run, after, batch)
        if done is None:
            return
        after = done.last_pk
        yield done


def _batch(tx: SqlTx, indexer: Indexer, resource_type: str | None, run: str, after: int,
           size: int) -> Batch | None:
    stmt = (select(resources).where(_scope(resource_type), resources.c.pk > after)
            .order_by(resources.c.pk).limit(size))
    if tx.conn.dialect.name != "sqlite":
        stmt = stmt.with_for_update()
    rows = tx.conn.execute(stmt).all()
    if not rows:
        tx.conn.execute(delete(reindex_progress).where(reindex_progress.c.run == run))
        if resource_type is None:  # every row of every resource is now this code's
            tx.conn.execute(delete(search_index_version))
            tx.conn.execute(insert(search_index_version).values(extraction=EXTRACTION_VERSION))
        return None
    pks = [int(row.pk) for row in rows]
    tx.delete_index_rows(pks)
    tx.insert_index_rows(_fresh_rows(tx, indexer, rows))
    _record_progress(tx, run, pks[-1])
    return Batch(tuple(pks), pks[-1])


def _fresh_rows(tx: SqlTx, indexer: Indexer, rows: Sequence[Any]) -> list[tuple[int, str, IndexRows]]:
    """The index rows of the live resources among ``rows`` (deleted and erased ones get none)."""
    out: list[tuple[int, str, IndexRows]] = []
    for row in rows:
        if row.deleted or row.erased or row.body is None:
            continue
        try:
            record = tx.record(row, "PUT")
        except Erased:  # shredded while this run was going: it keeps no index rows
            continue
        if record.body is not None:
            out.append((int(row.pk), record.resource_type, indexer(orjson.loads(record.body))))
    return out


def _record_progress(tx: SqlTx, run: str, last_pk: int) -> None:
    now = now_us()
    moved = tx.conn.execute(update(reindex_progress).where(reindex_progress.c.run == run)
                            .values(last_pk=last_pk, updated=now))
    if moved.rowcount == 0:
        tx.conn.execute(insert(reindex_progress).values(run=run, last_pk=last_pk, started=now, updated=now))


def _scope(resource_type: str | None) -> ColumnElement[bool]:
    return true() if resource_type is None else and_(resources.c.res_type == resource_type)
