"""The ``data_keys`` table seen from a unit of work (:class:`SqlKeyTable`, the store's
``ehr.crypto.boundary.KeyTable``), and the key maintenance statements: the batches a KEK rotation
re-wraps, and erasing a patient (crypto-shredding).

A key is inserted in the same transaction as the first version it seals, "on conflict do nothing" on
(tenant, owner), then read back: concurrent writers (threads or worker processes) all end up with the
one key that committed first. On PostgreSQL a second inserter waits for the first to commit, then
reads its key; SQLite writers are serialised already.
"""

from __future__ import annotations

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.dialects import postgresql, sqlite

from ehr.crypto.boundary import WrappedKey
from ehr.store.records import now_us
from ehr.store.sql.schema import INDEX_TABLES, data_keys, resource_versions, resources

_COLUMNS = (data_keys.c.key_id, data_keys.c.tenant, data_keys.c.owner, data_keys.c.kek_version, data_keys.c.wrapped)


class SqlKeyTable:
    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self._inserted: set[str] = set()
        #: the keys this unit of work inserted, by (tenant, owner): they cannot be in the shared cache
        #: before the commit, and every later write of the same patient in this unit of work (a
        #: transaction Bundle of thousands of a new patient's resources) asks for the key again
        self._mine: dict[tuple[str, str], WrappedKey] = {}

    def by_owner(self, tenant: str, owner: str) -> WrappedKey | None:
        mine = self._mine.get((tenant, owner))
        if mine is not None:
            return mine
        c = data_keys.c
        return self._one(select(*_COLUMNS).where(c.tenant == tenant, c.owner == owner))

    def by_id(self, key_id: str) -> WrappedKey | None:
        return self._one(select(*_COLUMNS).where(data_keys.c.key_id == key_id))

    def insert(self, key: WrappedKey) -> None:
        values = {"key_id": key.key_id, "tenant": key.tenant, "owner": key.owner, "kek_version": key.kek_version,
                  "wrapped": key.wrapped, "created": now_us()}
        dialect = postgresql if self.conn.dialect.name == "postgresql" else sqlite
        stmt = dialect.insert(data_keys).values(**values).on_conflict_do_nothing(index_elements=["tenant", "owner"])
        # RETURNING says whether this statement inserted it (psycopg's rowcount is -1 here, not 0 or 1)
        if self.conn.execute(stmt.returning(data_keys.c.key_id)).first() is not None:
            self._inserted.add(key.key_id)
            if key.owner is not None:
                self._mine[(key.tenant, key.owner)] = key

    def durable(self, key_id: str) -> bool:
        return key_id not in self._inserted

    def _one(self, stmt: object) -> WrappedKey | None:
        row = self.conn.execute(stmt).first()  # type: ignore[call-overload]
        if row is None:
            return None
        wrapped = None if row.wrapped is None else bytes(row.wrapped)
        return WrappedKey(row.key_id, row.tenant, row.owner, int(row.kek_version), wrapped)


def tenants(conn: Connection) -> list[str]:
    """Tenants that hold at least one live data key."""
    stmt = select(data_keys.c.tenant).where(data_keys.c.wrapped.is_not(None)).distinct()
    return sorted(conn.execute(stmt).scalars())


def stale_keys(conn: Connection, tenant: str, below: int, limit: int) -> list[WrappedKey]:
    """Up to ``limit`` live keys of ``tenant`` wrapped under a KEK version older than ``below``."""
    c = data_keys.c
    stmt = (select(*_COLUMNS).where(c.tenant == tenant, c.kek_version < below, c.wrapped.is_not(None))
            .order_by(c.key_id).limit(limit))
    return [WrappedKey(r.key_id, r.tenant, r.owner, int(r.kek_version), bytes(r.wrapped))
            for r in conn.execute(stmt)]


def replace_wrapped(conn: Connection, key: WrappedKey, version: int, wrapped: bytes) -> bool:
    """Store ``key`` re-wrapped, unless it changed meanwhile (re-wrapped or shredded by someone else)."""
    c = data_keys.c
    stmt = (update(data_keys)
            .where(c.key_id == key.key_id, c.kek_version == key.kek_version, c.wrapped.is_not(None))
            .values(kek_version=version, wrapped=wrapped))
    return bool(conn.execute(stmt).rowcount)


def patient_tenants(conn: Connection, owner: str) -> list[str]:
    """Tenants holding a live key of ``owner``."""
    c = data_keys.c
    return sorted(conn.execute(select(c.tenant).where(c.owner == owner, c.wrapped.is_not(None))).scalars())


def erase(conn: Connection, tenant: str, owner: str, patient: str) -> bool:
    """Destroy the tenant's key of ``owner`` (its wrapped copy is overwritten with NULL; the row stays
    as a tombstone so reads can say "erased"), mark the patient's versions erased and delete their
    search index rows (their blind digests). False when there was no live key."""
    c = data_keys.c
    destroyed = conn.execute(
        update(data_keys).where(c.tenant == tenant, c.owner == owner, c.wrapped.is_not(None))
        .values(wrapped=None, owner=None, erased=now_us())).rowcount
    if not destroyed:
        return False
    mine = select(resources.c.pk).where(resources.c.tenant == tenant, resources.c.patient == patient)
    for table in INDEX_TABLES:
        conn.execute(delete(table).where(table.c.pk.in_(mine)))
    for table in (resources, resource_versions):
        conn.execute(update(table).where(table.c.tenant == tenant, table.c.patient == patient).values(erased=True))
    return True
