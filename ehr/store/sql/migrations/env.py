"""Alembic environment: runs on the connection handed over by ``ehr.store.sql.engine.migrate``."""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from ehr.store.sql.schema import metadata

connection: Connection | None = context.config.attributes.get("connection")
if connection is None:
    raise RuntimeError("run migrations through ehr.store.sql.engine.migrate(), which passes a connection")
context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
