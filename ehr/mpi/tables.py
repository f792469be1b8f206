"""Tables of the SQL match index, and the one place that decides what of a record is stored.

``mpi_records`` holds each indexed record's match fields (one row per key); ``mpi_block_keys``
one row per blocking key of a record, indexed, so candidates are found by indexed equality
lookups on SQLite and PostgreSQL alike. ``stored_values`` / ``record_from_stored`` are the only
code that maps a ``PatientRecord`` to columns and back: when identifying values have to be stored
as keyed hashes (the encryption work), that change is made here and in ``blocking_key_value``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from sqlalchemy import Boolean, Column, Index, String, Table, Text

from ehr.mpi.features import PatientRecord
from ehr.store.sql.schema import metadata

KEY_LENGTH = 128
BLOCK_KEY_LENGTH = 255
TEXT_FIELDS = ("tenant", "mrn", "given", "middle", "family", "birth_date", "sex", "ssn", "address_line", "postcode",
               "city", "phone", "email")

mpi_records = Table(
    "mpi_records",
    metadata,
    Column("record_key", String(KEY_LENGTH), primary_key=True),
    *(Column(name, Text, nullable=name != "tenant") for name in TEXT_FIELDS),
    Column("previous_families", Text, nullable=False),
    Column("placeholder", Boolean, nullable=False),
    Column("multiple_birth", Boolean, nullable=False),
)

mpi_block_keys = Table(
    "mpi_block_keys",
    metadata,
    Column("block_key", String(BLOCK_KEY_LENGTH), primary_key=True),
    Column("record_key", String(KEY_LENGTH), primary_key=True),
    Index("ix_mpi_block_keys_record", "record_key"),
)


def stored_values(key: str, record: PatientRecord) -> dict[str, Any]:
    """The ``mpi_records`` row of ``record``."""
    values: dict[str, Any] = {name: getattr(record, name) for name in TEXT_FIELDS}
    values.update(record_key=key, previous_families=json.dumps(list(record.previous_families)),
                  placeholder=record.placeholder, multiple_birth=record.multiple_birth)
    return values


def record_from_stored(row: Mapping[Any, Any]) -> PatientRecord:
    """The ``PatientRecord`` of an ``mpi_records`` row."""
    return PatientRecord(
        **{name: row[name] for name in TEXT_FIELDS},
        previous_families=tuple(json.loads(row["previous_families"])),
        placeholder=bool(row["placeholder"]),
        multiple_birth=bool(row["multiple_birth"]),
    )


def blocking_key_value(block_key: str) -> str:
    """A blocking key as stored (truncated to the column; longer keys only block a little wider)."""
    return block_key[:BLOCK_KEY_LENGTH]
