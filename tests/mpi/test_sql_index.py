"""The SQL match index on SQLite and PostgreSQL: same candidates and matches as the in-memory
index, updates move a record's blocking keys, removal forgets it, and writes from two engines
(two worker processes) are seen by each other."""

from __future__ import annotations

import dataclasses

from sqlalchemy import func, select

from bench.mpi_synthea import population
from ehr.mpi.engine import MatchEngine
from ehr.mpi.features import PatientRecord
from ehr.mpi.memory_index import MemoryMatchIndex
from ehr.mpi.sql_index import SqlMatchIndex
from ehr.mpi.tables import mpi_block_keys, record_from_stored, stored_values
from ehr.store.sql.engine import make_engine, migrate

ENGINE = MatchEngine.load("v1")


def test_sql_index_matches_the_memory_index(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    try:
        sql, memory = SqlMatchIndex(engine, ENGINE.settings), MemoryMatchIndex(ENGINE.settings)
        data = population(60, seed=21)
        for key, record in data.records.items():
            sql.upsert(key, record)
            memory.upsert(key, record)
        for record in list(data.records.values())[:40]:
            assert sql.candidates(record) == memory.candidates(record)
            assert ENGINE.match(record, sql, count=3) == ENGINE.match(record, memory, count=3)
        assert any(len(sql.candidates(record)) > 1 for record in data.records.values())
    finally:
        engine.dispose()


def test_update_and_remove(db_url: str) -> None:
    engine = make_engine(db_url)
    migrate(engine)
    try:
        index = SqlMatchIndex(engine, ENGINE.settings)
        ada = PatientRecord("hospital-a", mrn="1", given="ada", family="lovelace", birth_date="1815-12-10",
                            ssn="900000001", previous_families=("byron",))
        index.upsert("hospital-a/1", ada)
        assert index.candidates(dataclasses.replace(ada, tenant="hospital-b")) == [("hospital-a/1", ada)]
        moved = dataclasses.replace(ada, ssn="900000002", birth_date="1815-12-11", family="king")
        index.upsert("hospital-a/1", moved)
        assert index.candidates(ada) == []
        assert index.candidates(moved) == [("hospital-a/1", moved)]
        other_worker = make_engine(db_url)
        try:
            assert SqlMatchIndex(other_worker, ENGINE.settings).candidates(moved) == [("hospital-a/1", moved)]
        finally:
            other_worker.dispose()
        index.remove("hospital-a/1")
        assert index.candidates(moved) == []
        with engine.connect() as conn:
            assert conn.execute(select(func.count()).select_from(mpi_block_keys)).scalar_one() == 0
    finally:
        engine.dispose()


def test_stored_values_round_trip() -> None:
    record = PatientRecord("t", given="a", family="b", previous_families=("c", "d"), placeholder=True)
    assert record_from_stored(stored_values("k", record)) == record
