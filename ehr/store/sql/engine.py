"""Engines for SQLite (WAL, the embedded default) and PostgreSQL, and schema migration with Alembic."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).parent / "migrations"


def make_engine(url: str) -> Engine:
    """An engine for ``url``; SQLite files get WAL, a busy timeout and foreign keys."""
    if url.startswith("sqlite"):
        engine = create_engine(url, poolclass=NullPool if ":memory:" in url else None,
                               connect_args={"check_same_thread": False, "timeout": 60})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    # no pre-ping: it would cost a round trip per request; stale connections are recycled instead
    return create_engine(url, pool_size=20, max_overflow=20, pool_recycle=1800)


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # let the "begin" hook issue BEGIN IMMEDIATE
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=60000")
    cursor.execute("PRAGMA cache_size=-65536")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    mode = connection.info.get("begin_mode", "DEFERRED")
    connection.connection.dbapi_connection.execute(f"BEGIN {mode}")


def new_schema(server_url: str, prefix: str) -> str:
    """Create an empty PostgreSQL schema on ``server_url`` and return a URL whose connections use it
    (``search_path``): a fresh database for a test or a benchmark run, on a shared server."""
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    engine = create_engine(server_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql(f'CREATE SCHEMA "{schema}"')
    finally:
        engine.dispose()
    return f"{server_url}?options=-csearch_path%3D{schema}"


def drop_schema(server_url: str, url: str) -> None:
    """Drop the schema a URL from :func:`new_schema` uses (nothing for another URL); waits at most 3 s
    for a lock a connection left open still holds, then raises."""
    marker = "search_path%3D"
    if not url.startswith("postgresql") or marker not in url:
        return
    schema = url.split(marker, 1)[1].split("&", 1)[0]
    engine = create_engine(server_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("SET LOCAL lock_timeout = '3s'")
            conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    finally:
        engine.dispose()
