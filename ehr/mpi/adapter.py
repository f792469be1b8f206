"""The matching engine (``ehr.mpi.engine``) as the FHIR side's :class:`~ehr.mpi.protocol.Matcher`: its
SQL index is read and written on the unit of work's own connection, so an index entry commits with the
Patient write that made it, and is stored the way that unit of work stores resources (sealed under the
patient's data key and with blinded blocking keys when encryption is on; ``ehr.mpi.tables``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection

from ehr.crypto.blind import BlindIndexKey
from ehr.crypto.boundary import PayloadContext
from ehr.mpi.engine import LinkResult, Match, MatchEngine
from ehr.mpi.features import PatientRecord, patient_features
from ehr.mpi.sql_index import candidates_in, remove_in, upsert_in
from ehr.mpi.tables import BLOCK_KEY_LENGTH, Protection
from ehr.store.protocol import Tx
from ehr.store.sql.store import SqlTx

#: the resource type in the associated data of a sealed index record (never a FHIR type)
SEALED_TYPE = "MpiRecord"


class EngineMatcher:
    def __init__(self, engine: MatchEngine, blind_key: BlindIndexKey | None) -> None:
        self.engine = engine
        self.blind_key = blind_key

    def features(self, patient: Mapping[str, Any], tenant: str) -> PatientRecord:
        return patient_features(dict(patient), tenant)

    def match(self, tx: Tx, record: PatientRecord, count: int = 10) -> Sequence[Match]:
        return self.engine.match(record, _Index(self, _sql(tx)), count)

    def upsert(self, tx: Tx, key: str, record: PatientRecord) -> None:
        sql = _sql(tx)
        upsert_in(sql.conn, self.engine.settings, key, record, self.protection(sql))

    def remove(self, tx: Tx, key: str) -> None:
        remove_in(_sql(tx).conn, key)

    def link_all(self, records: Sequence[tuple[str, PatientRecord]]) -> LinkResult:
        return self.engine.link_all(records)

    def protection(self, tx: SqlTx) -> Protection:
        """Seal records with the store's cipher under the patient's own data key; digest blocking keys."""
        def seal(tenant: str, key: str, data: bytes) -> bytes:
            return tx.cipher.seal(data, PayloadContext(tenant, SEALED_TYPE, key, 0, key), tx.keys)

        def open_(tenant: str, key: str, data: bytes) -> bytes:
            return tx.cipher.open(data, PayloadContext(tenant, SEALED_TYPE, key, 0, key), tx.keys)

        blind = self.blind_key

        def block(value: str) -> str:
            return blind.digest("mpi-block", value) if blind is not None else value[:BLOCK_KEY_LENGTH]

        return Protection(seal, open_, block)


class _Index:
    """The engine's ``MatchIndex`` over one unit of work."""

    def __init__(self, matcher: EngineMatcher, tx: SqlTx) -> None:
        self.matcher, self.tx = matcher, tx

    @property
    def conn(self) -> Connection:
        return self.tx.conn

    def upsert(self, key: str, record: PatientRecord) -> None:
        upsert_in(self.conn, self.matcher.engine.settings, key, record, self.matcher.protection(self.tx))

    def remove(self, key: str) -> None:
        remove_in(self.conn, key)

    def candidates(self, record: PatientRecord) -> list[tuple[str, PatientRecord]]:
        return candidates_in(self.conn, self.matcher.engine.settings, record, self.matcher.protection(self.tx))


def _sql(tx: Tx) -> SqlTx:
    inner = getattr(tx, "inner", tx)
    if not isinstance(inner, SqlTx):
        raise TypeError("the master patient index keeps its index in the SQL store")
    return inner
