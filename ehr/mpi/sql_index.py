"""The SQL ``MatchIndex`` (SQLite or PostgreSQL): candidates by indexed blocking-key lookups.

Every worker process sees the same index because it lives in the database. Each write replaces a
record's row and its blocking keys in one transaction; the ``*_in`` functions do the same on a
connection the caller already holds, so a Patient write and its index entry can commit together.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlalchemy import Connection, Engine, delete, insert, select

from ehr.crypto.boundary import DataKeyErased
from ehr.crypto.envelope import DecryptionError
from ehr.errors import Erased, StoredDataUnreadable
from ehr.mpi.blocking import blocking_keys
from ehr.mpi.columns import comparison_row
from ehr.mpi.features import PatientRecord
from ehr.mpi.rules import MatchSettings
from ehr.mpi.tables import (
    PLAIN,
    Protection,
    blocking_key_value,
    mpi_block_keys,
    mpi_records,
    record_from_stored,
    stored_values,
)

LOOKUP_CHUNK = 500
#: what opening a shredded record raises (the store's translation of ``DataKeyErased``)
Unreadable = (Erased, StoredDataUnreadable, DataKeyErased, DecryptionError)


class SqlMatchIndex:
    """``MatchIndex`` over the ``mpi_records`` and ``mpi_block_keys`` tables of ``engine``."""

    def __init__(self, engine: Engine, settings: MatchSettings) -> None:
        self.engine = engine
        self.settings = settings

    def upsert(self, key: str, record: PatientRecord) -> None:
        with self._write() as conn:
            upsert_in(conn, self.settings, key, record)

    def remove(self, key: str) -> None:
        with self._write() as conn:
            remove_in(conn, key)

    def candidates(self, record: PatientRecord) -> list[tuple[str, PatientRecord]]:
        with self.engine.connect() as conn:
            return candidates_in(conn, self.settings, record)

    def insert_many(self, items: Iterable[tuple[str, PatientRecord]]) -> int:
        with self._write() as conn:
            return insert_many_in(conn, self.settings, items)

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with self.engine.connect() as conn:
            if self.engine.dialect.name == "sqlite":
                conn.connection.info["begin_mode"] = "IMMEDIATE"
            with conn.begin():
                yield conn


def upsert_in(conn: Connection, settings: MatchSettings, key: str, record: PatientRecord,
              protect: Protection = PLAIN) -> None:
    """Index ``record`` under ``key`` (replacing what was there) within the caller's transaction."""
    remove_in(conn, key)
    conn.execute(insert(mpi_records), [stored_values(key, record, protect)])
    block_keys = sorted({blocking_key_value(k, protect)
                         for k in blocking_keys(comparison_row(key, record), settings)})
    if block_keys:
        conn.execute(insert(mpi_block_keys), [{"block_key": k, "record_key": key} for k in block_keys])


def insert_many_in(conn: Connection, settings: MatchSettings, items: Iterable[tuple[str, PatientRecord]],
                   protect: Protection = PLAIN) -> int:
    """Index records whose keys are not in the index yet (bulk load: a rebuild or a first import)."""
    records: list[dict[str, object]] = []
    block_rows: list[dict[str, str]] = []
    for key, record in items:
        records.append(stored_values(key, record, protect))
        block_keys = {blocking_key_value(k, protect) for k in blocking_keys(comparison_row(key, record), settings)}
        block_rows.extend({"block_key": k, "record_key": key} for k in sorted(block_keys))
    if records:
        conn.execute(insert(mpi_records), records)
    if block_rows:
        conn.execute(insert(mpi_block_keys), block_rows)
    return len(records)


def remove_in(conn: Connection, key: str) -> None:
    conn.execute(delete(mpi_block_keys).where(mpi_block_keys.c.record_key == key))
    conn.execute(delete(mpi_records).where(mpi_records.c.record_key == key))


def candidates_in(conn: Connection, settings: MatchSettings, record: PatientRecord,
                  protect: Protection = PLAIN) -> list[tuple[str, PatientRecord]]:
    """The indexed records sharing a blocking key with ``record``, by key. Records that no longer open
    (their patient's data key was destroyed: ``ehr keys shred``) are left out."""
    block_keys = sorted({blocking_key_value(k, protect)
                         for k in blocking_keys(comparison_row("", record), settings)})
    found: dict[str, PatientRecord] = {}
    for start in range(0, len(block_keys), LOOKUP_CHUNK):
        chunk = block_keys[start:start + LOOKUP_CHUNK]
        keys = select(mpi_block_keys.c.record_key).where(mpi_block_keys.c.block_key.in_(chunk)).distinct()
        rows = conn.execute(select(mpi_records).where(mpi_records.c.record_key.in_(keys.scalar_subquery())))
        for row in rows.mappings():
            try:
                found[row["record_key"]] = record_from_stored(row, protect)
            except Unreadable:
                continue
    return sorted(found.items())
