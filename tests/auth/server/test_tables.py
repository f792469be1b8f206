"""Migration 0010 creates the authorization server's tables as ``ehr.auth.server.tables`` declares
them, and leaves every other table of the schema in place."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect

import ehr.auth.server.tables  # their tables join the store's metadata
import ehr.mpi.link_tables  # noqa: F401
from ehr.store.sql.engine import make_engine, migrate
from ehr.store.sql.schema import metadata


def test_migrations_create_every_declared_table(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'ehr.db'}")
    try:
        migrate(engine)
        assert set(metadata.tables) <= set(inspect(engine).get_table_names())
        with engine.connect() as conn:
            differences = compare_metadata(MigrationContext.configure(conn), metadata)
        assert [d for d in differences if "auth_" in repr(d)] == []
        assert {t for t in metadata.tables if t.startswith("auth_")} == {
            "auth_clients", "auth_users", "auth_codes", "auth_refresh", "auth_launches", "auth_tokens",
            "auth_assertion_jtis"}
    finally:
        engine.dispose()

