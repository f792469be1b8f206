"""An event loop's reads keep one connection out of the pool (``SqlStore._loop_reader``): the same
connection serves every read of the loop's thread, yet no read keeps a snapshot (each sees what was
committed before it), a read that fails gives its connection up, the connection goes back to the pool
after a while, and closing the store closes it."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import Connection, func, select

from ehr.store.sql import store as store_module
from ehr.store.sql.engine import make_engine, migrate
from ehr.store.sql.schema import audit_journal
from ehr.store.sql.store import SqlStore, SqlTx


def _store(db_url: str) -> SqlStore:
    engine = make_engine(db_url)
    migrate(engine)
    return SqlStore(engine)


def _count(tx: SqlTx) -> int:
    return int(tx.conn.execute(select(func.count()).select_from(audit_journal)).scalar_one())


def _insert(store: SqlStore, n: int) -> None:
    with store.unit_of_work(write=True) as tx:
        tx.conn.execute(audit_journal.insert().values(id=f"j{n}", drained=n))


def test_a_loops_reads_share_one_connection_and_see_every_commit_before_them(db_url: str) -> None:
    store = _store(db_url)

    async def run() -> list[tuple[int, int]]:
        seen = []
        for n in range(3):
            with store.unit_of_work(write=False) as tx:  # the query begins a transaction on SQLite
                seen.append((id(tx.conn.connection.dbapi_connection), _count(tx)))
            await asyncio.to_thread(_insert, store, n)  # a write in a worker thread, between the reads
        return seen

    try:
        seen = asyncio.run(run())
        assert len({connection for connection, _ in seen}) == 1
        assert [count for _, count in seen] == [0, 1, 2]
        ((kept, _),) = store._loop_readers.values()
    finally:
        store.close()
    assert kept.closed
    assert store._loop_readers == {}


def test_a_failed_read_gives_its_connection_up(db_url: str) -> None:
    store = _store(db_url)

    async def run() -> tuple[Connection, Connection]:
        with store.unit_of_work(write=False) as tx:
            first = tx.conn
        with pytest.raises(LookupError):
            _fail_in(store, first)
        assert first.closed  # back in the pool, rolled back
        assert store._loop_readers == {}
        with store.unit_of_work(write=False) as tx:
            return first, tx.conn

    try:
        first, second = asyncio.run(run())
    finally:
        store.close()
    assert second is not first


def test_a_kept_connection_goes_back_to_the_pool_after_its_keep_period(
        db_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """So that the pool's recycling (``pool_recycle``) still applies to it."""
    store = _store(db_url)

    async def run() -> list[Connection]:
        seen = []
        for keep in (60.0, 60.0, 0.0):
            monkeypatch.setattr(store_module, "LOOP_READER_KEEP_S", keep)
            if keep == 0.0:
                await asyncio.sleep(0.01)
            with store.unit_of_work(write=False) as tx:
                seen.append(tx.conn)
        return seen

    try:
        first, second, third = asyncio.run(run())
    finally:
        store.close()
    assert second is first
    assert third is not first
    assert first.closed


def _fail_in(store: SqlStore, expected: Connection) -> None:
    with store.unit_of_work(write=False) as tx:
        assert tx.conn is expected
        raise LookupError("a read that failed")


def test_reads_outside_an_event_loop_use_the_pool(db_url: str) -> None:
    store = _store(db_url)
    try:
        with store.unit_of_work(write=False) as tx:
            assert _count(tx) == 0
        assert store._loop_readers == {}
    finally:
        store.close()
