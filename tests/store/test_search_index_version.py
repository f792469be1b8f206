"""Migration 0011 records which extraction built the stored index rows: the first (1) where the database
already holds resources, whose number and quantity rows are then the ranges of their precision; 2 for an
empty database, which 0012 (``:text`` rows) records as 3, and leaves a database with resources as it was.
``ehr.store.sql.reindex`` takes it from there (tests/cli/test_reindex.py)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine, insert, select

from ehr.store.sql.engine import make_engine, migrate
from ehr.store.sql.schema import metadata, resources, search_index_version
from tests.store.upgrade import upgrade


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    """A fresh database on each engine (SQLite, PostgreSQL)."""
    engine = make_engine(db_url)
    yield engine
    engine.dispose()


def _recorded(engine: Engine) -> list[int]:
    with engine.connect() as conn:
        return [int(v) for (v,) in conn.execute(select(search_index_version.c.extraction)).all()]


def test_an_empty_database_is_current(engine: Engine) -> None:
    migrate(engine)
    assert _recorded(engine) == [3]
    with engine.connect() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in differences if "search_index_version" in repr(d)] == []


def test_a_database_with_resources_was_indexed_by_the_first_extraction(engine: Engine) -> None:
    upgrade(engine, "0010")
    with engine.begin() as conn:
        conn.execute(insert(resources).values(res_type="RiskAssessment", res_id="r1", tenant="t", version=1,
                                              last_updated=0, deleted=False, body=b"{}", erased=False))
    migrate(engine)
    assert _recorded(engine) == [1]


def test_a_database_indexed_by_the_second_extraction_keeps_its_version_through_0012(engine: Engine) -> None:
    upgrade(engine, "0011")
    with engine.begin() as conn:
        conn.execute(insert(resources).values(res_type="RiskAssessment", res_id="r1", tenant="t", version=1,
                                              last_updated=0, deleted=False, body=b"{}", erased=False))
    assert _recorded(engine) == [2]
    migrate(engine)
    assert _recorded(engine) == [2]
