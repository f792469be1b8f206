"""Data keys in the SQL store (ehr.crypto.keyring with ehr.store.sql.data_keys): concurrent first writes
for one patient share one key, a key created by a rolled-back unit of work is never cached, and rows
moved between places or left without their key are refused with one opaque 500 over HTTP."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import event, select, update

from ehr.crypto.boundary import PayloadContext
from ehr.crypto.cache import KeyCache
from ehr.crypto.cipher import EnvelopeCipher
from ehr.crypto.kek import LocalKekSource
from ehr.crypto.keyring import DataKeyRing
from ehr.settings import Settings
from ehr.store.sql.engine import make_engine, migrate
from ehr.store.sql.schema import data_keys, resources
from ehr.store.sql.store import SqlStore
from tests.conftest import LiveServer
from tests.fhir.support import diagnostics


def _cipher(tmp_path: Path) -> EnvelopeCipher:
    """A cipher with its own key ring and cache, as one worker process has."""
    return EnvelopeCipher(DataKeyRing(LocalKekSource(tmp_path / "kek"), KeyCache()))


def _store(db_url: str, tmp_path: Path) -> SqlStore:
    engine = make_engine(db_url)
    migrate(engine)
    return SqlStore(engine, _cipher(tmp_path))


def test_concurrent_first_writes_share_one_key(db_url: str, tmp_path: Path) -> None:
    stores = [_store(db_url, tmp_path) for _ in range(6)]
    barrier = threading.Barrier(len(stores))
    sealed: list[tuple[bytes, PayloadContext]] = []
    errors: list[BaseException] = []

    def first_write(n: int, store: SqlStore) -> None:
        context = PayloadContext("t", "Observation", f"o{n}", 1, patient="p1")
        try:
            barrier.wait()
            with store.unit_of_work(write=True) as tx:
                sealed.append((store.cipher.seal(f"payload {n}".encode(), context, tx.keys), context))
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=first_write, args=(n, s)) for n, s in enumerate(stores)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    reader = _store(db_url, tmp_path)
    try:
        with reader.unit_of_work(write=False) as tx:
            owners = tx.conn.execute(select(data_keys.c.owner)).scalars().all()
            opened = {reader.cipher.open(blob, context, tx.keys) for blob, context in sealed}
    finally:
        for store in [*stores, reader]:
            store.close()
    assert owners == ["patient:p1"]
    assert opened == {f"payload {n}".encode() for n in range(len(stores))}


@pytest.fixture
def encrypted(db_url: str, tmp_path: Path) -> Iterator[tuple[SqlStore, EnvelopeCipher]]:
    """An SQL store sealing with its own key ring and cache, and that cipher."""
    store = _store(db_url, tmp_path)
    assert isinstance(store.cipher, EnvelopeCipher)
    yield store, store.cipher
    store.close()


def test_a_rolled_back_key_is_not_cached(encrypted: tuple[SqlStore, EnvelopeCipher]) -> None:
    store, cipher = encrypted
    context = PayloadContext("t", "Patient", "p2", 1, patient="p2")
    with pytest.raises(RuntimeError, match="after sealing"):
        _seal_then_fail(store, cipher, context)
    assert len(cipher.ring.cache) == 0
    with store.unit_of_work(write=True) as tx:
        blob = cipher.seal(b"{}", context, tx.keys)
        assert len(cipher.ring.cache) == 0  # created here: cached only once committed and read again
    with store.unit_of_work(write=False) as tx:
        assert tx.conn.execute(select(data_keys.c.owner)).scalars().all() == ["patient:p2"]
        assert cipher.open(blob, context, tx.keys) == b"{}"
    assert len(cipher.ring.cache) == 1


def test_a_rolled_back_key_read_through_another_view_of_its_unit_of_work_is_not_cached(
        encrypted: tuple[SqlStore, EnvelopeCipher]) -> None:
    """The master patient index writes through an unrestricted view of the unit of work
    (``with_access(None)``) and a conditional write looks through the caller's own: a key that one view
    created is not durable for the others either, until the unit of work commits."""
    store, cipher = encrypted
    with pytest.raises(RuntimeError, match="rolled back"):
        _seal_open_then_fail(store, cipher, PayloadContext("t", "Patient", "p3", 1, patient="p3"))
    assert len(cipher.ring.cache) == 0  # else the next write would seal under a key that does not exist


def test_a_new_patients_key_is_looked_up_once_per_unit_of_work(encrypted: tuple[SqlStore, EnvelopeCipher]) -> None:
    """A transaction Bundle of a new patient seals thousands of versions under the key it creates, which
    the shared cache may not hold before the commit: the unit of work remembers it instead of asking the
    database again for every version."""
    store, cipher = encrypted
    lookups: list[str] = []

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        if statement.lstrip().upper().startswith("SELECT") and "data_keys" in statement:
            lookups.append(statement)

    event.listen(store.engine, "before_cursor_execute", count)
    try:
        with store.unit_of_work(write=True) as tx:
            blobs = [(cipher.seal(b"{}", context, tx.keys), context)
                     for context in (PayloadContext("t", "Observation", f"o{n}", 1, patient="p4") for n in range(5))]
        assert len(lookups) == 1  # the first miss; the key it then inserts is remembered
        with store.unit_of_work(write=False) as tx:
            assert {cipher.open(blob, context, tx.keys) for blob, context in blobs} == {b"{}"}
    finally:
        event.remove(store.engine, "before_cursor_execute", count)


def _seal_open_then_fail(store: SqlStore, cipher: EnvelopeCipher, context: PayloadContext) -> None:
    with store.unit_of_work(write=True) as tx:
        blob = cipher.seal(b"{}", context, tx.with_access(None).keys)
        assert cipher.open(blob, context, tx.keys) == b"{}"
        raise RuntimeError("rolled back")


def _seal_then_fail(store: SqlStore, cipher: EnvelopeCipher, context: PayloadContext) -> None:
    with store.unit_of_work(write=True) as tx:
        cipher.seal(b"{}", context, tx.keys)
        raise RuntimeError("the write failed after sealing")


def test_moved_rows_and_lost_keys_are_refused_opaquely(db_url: str, tmp_path: Path) -> None:
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path, key_cache_ttl_s=0)
    headers = {"Content-Type": "application/fhir+json"}
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=headers, timeout=60) as http:
        a, b, c = (http.post("/Patient", json={"resourceType": "Patient", "name": [{"family": f}]}).json()["id"]
                   for f in ("Alpha", "Beta", "Gamma"))
        engine = make_engine(db_url)
        try:
            with engine.begin() as conn:
                body_a = conn.execute(select(resources.c.body).where(resources.c.res_id == a)).scalar_one()
                conn.execute(update(resources).where(resources.c.res_id == b).values(body=body_a))
                conn.execute(data_keys.delete().where(data_keys.c.owner == f"patient:{c}"))
        finally:
            engine.dispose()
        assert http.get(f"/Patient/{a}").status_code == 200
        for moved_or_keyless in (b, c):
            response = http.get(f"/Patient/{moved_or_keyless}")
            assert response.status_code == 500
            assert "failed its integrity check" in diagnostics(response.json())
            assert "Alpha" not in response.text
