"""Tables of the SQL match index, and the one place that decides what of a record is stored and how.

``mpi_records`` holds each indexed record's match fields (one row per key) as one sealed blob;
``mpi_block_keys`` one row per blocking key of a record, indexed, so candidates are found by indexed
equality lookups on SQLite and PostgreSQL alike. Both go through a :class:`Protection`: with encryption
at rest on (``ehr.crypto``) the record is an envelope under the patient's own data key (so
``ehr keys shred`` makes it unreadable too) and each blocking key a keyed HMAC digest (a blind index:
blocking needs equality only), so the index holds no identifying value in the clear. ``PLAIN`` stores
both as they are (encryption off, benchmarks and unit tests).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from sqlalchemy import Column, Index, LargeBinary, String, Table

from ehr.mpi.features import PatientRecord
from ehr.store.sql.schema import metadata

KEY_LENGTH = 128
BLOCK_KEY_LENGTH = 255

mpi_records = Table(
    "mpi_records",
    metadata,
    Column("record_key", String(KEY_LENGTH), primary_key=True),
    Column("tenant", String(64), nullable=False),
    Column("sealed", LargeBinary, nullable=False),
)

mpi_block_keys = Table(
    "mpi_block_keys",
    metadata,
    Column("block_key", String(BLOCK_KEY_LENGTH), primary_key=True),
    Column("record_key", String(KEY_LENGTH), primary_key=True),
    Index("ix_mpi_block_keys_record", "record_key"),
)


@dataclass(frozen=True, slots=True)
class Protection:
    """How records and blocking keys are stored: ``seal(tenant, key, plaintext)``,
    ``open(tenant, key, stored)`` and ``block(blocking key) -> stored key``."""

    seal: Callable[[str, str, bytes], bytes]
    open: Callable[[str, str, bytes], bytes]
    block: Callable[[str], str]


PLAIN = Protection(lambda _t, _k, data: data, lambda _t, _k, data: data, lambda key: key[:BLOCK_KEY_LENGTH])


def stored_values(key: str, record: PatientRecord, protect: Protection = PLAIN) -> dict[str, Any]:
    """The ``mpi_records`` row of ``record``."""
    plain = orjson.dumps(asdict(record))
    return {"record_key": key, "tenant": record.tenant, "sealed": protect.seal(record.tenant, key, plain)}


def record_from_stored(row: Mapping[Any, Any], protect: Protection = PLAIN) -> PatientRecord:
    """The ``PatientRecord`` of an ``mpi_records`` row."""
    values = orjson.loads(protect.open(row["tenant"], row["record_key"], bytes(row["sealed"])))
    values["previous_families"] = tuple(values["previous_families"])
    return PatientRecord(**values)


def blocking_key_value(block_key: str, protect: Protection = PLAIN) -> str:
    """A blocking key as stored: a digest, or the key truncated to the column (longer keys only block a
    little wider)."""
    return protect.block(block_key)
