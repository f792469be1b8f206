"""PostgreSQL reads of one row through libpq's prepared-statement call (``ehr.store.sql.prepared``) give
exactly what psycopg's cursor gives: the same values and types, NULLs, the same exception class on an
error; a store's read by id takes this path, preparing its statement once per connection; what the
module does not decode (a column or parameter type, a connection in a transaction, statements beyond
the bound) is left to the cursor."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from sqlalchemy import text

from ehr.store.sql import prepared
from ehr.store.sql.engine import make_engine, migrate
from ehr.store.sql.schema import resources
from ehr.store.sql.store import SqlStore
from tests.conftest import PG_ADMIN_URL, database_url, drop_schema

pytestmark = pytest.mark.postgres


@pytest.fixture
def pg_url(tmp_path: Path, pg_available: bool) -> Iterator[str]:
    url = database_url("postgresql", tmp_path, pg_available)
    yield url
    drop_schema(url)


@pytest.fixture
def raw(pg_available: bool) -> Iterator[psycopg.Connection[Any]]:
    if not pg_available:
        database_url("postgresql", Path(), pg_available)  # skips, or fails in CI
    with psycopg.connect(PG_ADMIN_URL.replace("postgresql+psycopg", "postgresql"), autocommit=True) as conn:
        yield conn


def _cursor_row(conn: psycopg.Connection[Any], sql: str, params: Any) -> tuple[Any, ...] | None:
    with conn.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else tuple(row)


def test_values_of_each_type_come_back_as_the_cursor_reads_them(raw: psycopg.Connection[Any]) -> None:
    sql = ("SELECT %(t)s::text, %(t)s::varchar, %(n)s::int4, %(big)s::int8, %(n)s::int2, %(yes)s::bool, "
           "%(no)s::bool, %(data)s::bytea, NULL::text, NULL::bytea")
    params = {"t": "Patient/é", "n": -7, "big": 1_700_000_000_000_000, "yes": True, "no": False, "data": "\\x00ff10"}
    info: dict[str, Any] = {}
    fast = prepared.first_row(raw, info, sql, params)
    assert fast == _cursor_row(raw, sql, params)
    assert fast == ("Patient/é", "Patient/é", -7, 1_700_000_000_000_000, -7, True, False, b"\x00\xff\x10", None, None)
    positional = "SELECT %s::text, %s::int8 WHERE %s::int4 > 0"
    assert prepared.first_row(raw, info, positional, ("a", 5, 1)) == ("a", 5)
    assert prepared.first_row(raw, info, positional, ("a", 5, 0)) is None  # no row
    assert len(info["ehr.prepared"]) == 2  # each statement prepared once
    assert prepared.first_row(raw, info, positional, ("b", 6, 1)) == ("b", 6)
    assert len(info["ehr.prepared"]) == 2


def test_a_failing_statement_raises_what_the_cursor_raises(raw: psycopg.Connection[Any]) -> None:
    sql = "SELECT 1 / %s::int4"
    with pytest.raises(psycopg.errors.DivisionByZero):
        _cursor_row(raw, sql, (0,))
    info: dict[str, Any] = {}
    with pytest.raises(psycopg.errors.DivisionByZero):
        prepared.first_row(raw, info, sql, (0,))
    assert prepared.first_row(raw, info, sql, (1,)) == (1,)  # the connection goes on


def test_what_it_does_not_decode_is_left_to_the_cursor(raw: psycopg.Connection[Any]) -> None:
    info: dict[str, Any] = {}
    numeric = "SELECT %s::numeric"
    assert prepared.first_row(raw, info, numeric, (1,)) is prepared.NOT_HANDLED  # a column type
    assert info["ehr.prepared"][numeric] is None  # and remembered as such
    assert prepared.first_row(raw, info, "SELECT %s::float8", (1.5,)) is prepared.NOT_HANDLED  # a parameter type
    raw.autocommit = False
    try:
        assert prepared.first_row(raw, info, "SELECT %s::int4", (1,)) is prepared.NOT_HANDLED  # in a transaction
    finally:
        raw.rollback()
        raw.autocommit = True
    full = {"ehr.prepared": {f"SELECT {n}": None for n in range(prepared.MAX_STATEMENTS)}}
    assert prepared.first_row(raw, full, "SELECT %s::int4", (1,)) is prepared.NOT_HANDLED  # beyond the bound
    assert len(full["ehr.prepared"]) == prepared.MAX_STATEMENTS  # and not remembered either


def test_a_stores_read_by_id_takes_one_prepared_statement_and_matches_the_cursor(
        pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = make_engine(pg_url)
    migrate(engine)
    store = SqlStore(engine)
    try:
        with store.unit_of_work(write=True) as tx:
            common = {"res_type": "Patient", "tenant": "h1", "erased": False}
            tx.conn.execute(resources.insert(), [
                {**common, "res_id": "p1", "version": 3, "last_updated": 1_700_000_000_000_001, "deleted": False,
                 "body": b'{"resourceType":"Patient"}', "patient": "Patient/p1"},
                {**common, "res_id": "p2", "version": 2, "last_updated": 1_700_000_000_000_002, "deleted": True,
                 "body": None, "patient": "Patient/p2"}])

        def read_all() -> list[Any]:
            with store.unit_of_work(write=False) as tx:
                names = tx.conn.execute(text("SELECT name FROM pg_prepared_statements WHERE name LIKE 'ehr_%'")).all()
                return [tx.current("Patient", "p1"), tx.current("Patient", "p2"), tx.current("Patient", "none"),
                        sorted(name for (name,) in names)]

        read_all()
        fast = read_all()
        assert fast[3] == ["ehr_0"]
        monkeypatch.setattr(prepared, "first_row", lambda *args: prepared.NOT_HANDLED)
        assert read_all()[:3] == fast[:3]
        record = fast[0]
        assert (record.id, record.version, record.last_updated, record.tenant, record.deleted, record.body) == (
            "p1", 3, 1_700_000_000_000_001, "h1", False, b'{"resourceType":"Patient"}')
        assert fast[1].deleted
        assert fast[1].body is None
        assert fast[2] is None
    finally:
        store.close()
