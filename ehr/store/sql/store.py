"""The SQL implementation of :class:`ehr.store.protocol.Store` (SQLAlchemy Core).

Writes of one unit of work are batched: resource rows, version rows and index rows each go to the
database as one multi-row statement, which keeps a 1,000-entry transaction Bundle to a handful of
round trips. SQLite write transactions start with ``BEGIN IMMEDIATE`` so that concurrent writers
queue on the lock instead of failing; PostgreSQL updates lock the current row (``FOR UPDATE``).
"""

from __future__ import annotations

import fcntl
import functools
import hashlib
import operator
import threading
import time
from asyncio import _get_running_loop as asyncio_running_loop
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import psycopg
from sqlalchemy import Connection, Engine, Row, Select, Table, and_, delete, exists, false, select, true, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ehr.auth.access import READ_LETTERS, Access
from ehr.crypto.boundary import DataKeyErased, IdentityCipher, PayloadCipher, PayloadContext
from ehr.crypto.envelope import DecryptionError
from ehr.crypto.kek import KekUnavailable
from ehr.errors import Conflict, Erased, ServiceUnavailable, StoredDataUnreadable
from ehr.search import sql as search_sql
from ehr.search.index_rows import IndexRows
from ehr.search.paging import edges, query_position
from ehr.search.query import SearchQuery
from ehr.store.protocol import HistoryQuery, SearchPage
from ehr.store.records import PendingWrite, VersionRecord, now_us
from ehr.store.sql import access as access_sql
from ehr.store.sql import composites, prepared
from ehr.store.sql.access import guard, version_visible
from ehr.store.sql.data_keys import SqlKeyTable
from ehr.store.sql.schema import INDEX_TABLES, VALUE_TABLES, idx_reference, import_ledger, resource_versions, resources
from ehr.store.sql.write_check import check_writes as check_sql_writes

_CURRENT = ("SELECT res_type, res_id, tenant, version, last_updated, deleted, body, erased FROM resources "
            "WHERE res_type = ? AND res_id = ?")
_VERSION = ("SELECT res_type, res_id, tenant, version, last_updated, deleted, body, erased, method "
            "FROM resource_versions WHERE res_type = ? AND res_id = ? AND version = ?")
#: parameters answered from the ``resources`` columns (res_id, last_updated), so never stored as rows
_COLUMN_PARAMS = frozenset({"_id", "_lastUpdated"})
_ROW_FIELDS = ("tokens", "strings", "references", "dates", "numbers", "quantities", "uris")
_RESOURCE_INSERT = ("INSERT INTO resources (pk, res_type, res_id, tenant, version, last_updated, deleted, body, "
                    "patient) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
_VERSION_INSERT = ("INSERT INTO resource_versions (res_type, res_id, version, tenant, last_updated, method, "
                   "deleted, body, patient) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")


def _erased(resource_type: str, resource_id: str) -> Erased:
    return Erased(f"{resource_type}/{resource_id} was erased: its patient's data key was destroyed (crypto-shredding), "
                  "so none of its versions can be read again.")


@functools.cache
def _index_insert(table: Table, fields: tuple[str, ...]) -> str:
    columns = ["pk", "res_type", *fields]
    # identifiers come from the schema and the row dataclasses, never from input
    return f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES ({', '.join('?' for _ in columns)})"  # noqa: S608


_GETTERS: dict[type, Callable[[Any], tuple[Any, ...]]] = {}


def _values(item: Any) -> tuple[Any, ...]:
    """An index row's fields as a tuple, in ``__slots__`` order (every row type has two or more)."""
    kind = type(item)
    getter = _GETTERS.get(kind)
    if getter is None:
        getter = _GETTERS[kind] = operator.attrgetter(*kind.__slots__)
    return getter(item)


def _by_type(keys: Sequence[tuple[str, str]]) -> Iterator[tuple[str, Sequence[str]]]:
    """``(type, id)`` keys as chunks of ids of one type: ``(type, id) IN (...)`` with several keys is a
    scan in SQLite, ``type = ? AND id IN (...)`` an index search on both engines."""
    by_type: dict[str, list[str]] = {}
    for resource_type, resource_id in dict.fromkeys(keys):
        by_type.setdefault(resource_type, []).append(resource_id)
    for resource_type, ids in by_type.items():
        for chunk in _chunks(ids):
            yield resource_type, chunk


def _chunks(items: Sequence[Any], size: int = 500) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def planned_page(conn: Connection, query: SearchQuery,
                 rights: search_sql.Guard | None) -> tuple[SearchQuery, Select[Any]]:
    """The query as planned by what it finds (``search_sql.plan``) and the statement of its page: along
    each target of its chain (``search_sql.chain_lead``) when they are few, otherwise as compiled."""
    lateral = conn.dialect.name == "postgresql"
    query = search_sql.plan(query, lambda stmt: int(conn.execute(stmt).scalar_one()), listed=lateral)
    targets = None
    lead = search_sql.chain_lead(query)
    if lead is not None:
        found = [(str(t), str(i)) for t, i in conn.execute(search_sql.targets_statement(lead, rights))]
        targets = found if len(found) <= search_sql.MERGE_TARGETS else None
    return query, search_sql.page_statement(query, guard=rights, targets=targets, lateral=lateral)


#: how long an event loop keeps its read connection out of the pool (``SqlStore._loop_reader``)
LOOP_READER_KEEP_S = 60.0


@contextmanager
def file_lock(path: Path, *, wait: bool = True) -> Iterator[None]:
    """An exclusive kernel lock on the file ``path`` (made if missing), held for the block, shared by
    threads and processes alike. ``wait=False``: ``BlockingIOError`` at once when someone holds it."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


class SqlStore:
    def __init__(self, engine: Engine, cipher: PayloadCipher | None = None) -> None:
        self.engine = engine
        self.cipher: PayloadCipher = cipher or IdentityCipher()
        self._sqlite = engine.dialect.name == "sqlite"
        database = engine.url.database if self._sqlite else None
        self._writer_lock = Path(f"{database}.writer-lock") if database and database != ":memory:" else None
        #: the read connection of each event-loop thread, kept between its units of work
        self._loop_readers: dict[int, tuple[Connection, float]] = {}

    @contextmanager
    def unit_of_work(self, *, write: bool, access: Access | None = None) -> Iterator[SqlTx]:
        """Writes run in one transaction (SQLite: BEGIN IMMEDIATE). Reads run without an explicit one:
        a read of one resource is one statement, and on PostgreSQL autocommit saves the BEGIN and
        COMMIT round trips. ``access`` (None: unrestricted) is compiled into every query of the unit
        of work (``ehr.store.sql.access``). An event loop's reads keep one connection out of the pool
        (:meth:`_loop_reader`)."""
        if not write:
            reader = self._loop_reader() if asyncio_running_loop() is not None else self._read_connection()
            with reader as conn:
                yield SqlTx(conn, self.cipher, for_update_ok=not self._sqlite, access=access)
            return
        with self._writer(write), self.engine.connect() as conn:
            if self._sqlite:
                conn.connection.info["begin_mode"] = "IMMEDIATE"
            with conn.begin():
                yield SqlTx(conn, self.cipher, for_update_ok=not self._sqlite, access=access)

    def _read_connection(self) -> Connection:
        """A connection out of the pool, set up for reads (SQLite: a query's transaction is deferred;
        PostgreSQL: autocommit); closing it returns it."""
        conn = self.engine.connect()
        if self._sqlite:
            conn.connection.info["begin_mode"] = "DEFERRED"
            return conn
        return conn.execution_options(isolation_level="AUTOCOMMIT")

    @contextmanager
    def _loop_reader(self) -> Iterator[Connection]:
        """The event-loop thread's read connection, checked out of the pool and kept for
        :data:`LOOP_READER_KEEP_S`: a checkout and check-in cost a read about as much as its query.
        Then it goes back to the pool, whose recycling and disposal rules apply at the next checkout.
        Taken while in use (a nested unit of work checks out another). Every unit of work ends its
        transaction, if a query began one, so that no snapshot outlives it; a unit of work that fails
        closes the connection (the next one checks out a fresh one)."""
        thread = threading.get_ident()
        conn, since = self._loop_readers.pop(thread, (None, 0.0))
        if conn is not None and time.monotonic() - since > LOOP_READER_KEEP_S:
            conn.close()
        if conn is None or conn.closed or conn.invalidated:
            conn, since = self._read_connection(), time.monotonic()
        try:
            yield conn
            conn.rollback()
        except BaseException:
            conn.close()
            raise
        self._loop_readers[thread] = (conn, since)

    def writer_lock(self, *, wait: bool = True) -> AbstractContextManager[None]:
        """The SQLite writers' queue (below), for a writer that drives its own connection (the audit
        appender); a no-op on PostgreSQL. ``wait=False``: raise ``BlockingIOError`` at once when
        another writer holds it."""
        return self._writer(True, wait=wait)

    @contextmanager
    def _writer(self, write: bool, *, wait: bool = True) -> Iterator[None]:
        """SQLite writers (threads and worker processes alike) queue on a kernel file lock beside the
        database, so a waiting writer wakes the moment the previous one commits, instead of polling
        in SQLite's busy handler, whose sleeps grow to 100 ms."""
        if not write or self._writer_lock is None:
            yield
            return
        with file_lock(self._writer_lock, wait=wait):
            yield

    def close(self) -> None:
        readers, self._loop_readers = list(self._loop_readers.values()), {}
        for conn, _ in readers:
            conn.close()
        self.engine.dispose()


class SqlTx:
    def __init__(self, conn: Connection, cipher: PayloadCipher, *, for_update_ok: bool,
                 access: Access | None = None, keys: SqlKeyTable | None = None) -> None:
        self.conn = conn
        self.cipher = cipher
        #: one per unit of work, shared by its views (:meth:`with_access`): it knows which keys the
        #: unit of work created, which no view may cache before the commit
        self.keys = keys or SqlKeyTable(conn)
        self._for_update_ok = for_update_ok
        self.access = access
        self._guard = None if access is None else guard(access, READ_LETTERS)

    def with_access(self, access: Access | None) -> SqlTx:
        """The same unit of work seen with other rights (None: unrestricted, for internal machinery)."""
        return SqlTx(self.conn, self.cipher, for_update_ok=self._for_update_ok, access=access, keys=self.keys)

    def current(self, resource_type: str, id: str, *, for_update: bool = False) -> VersionRecord | None:
        if self.access is not None:
            query = access_sql.compiled_current(self.access, resource_type, for_update and self._for_update_ok,
                                                self.conn.dialect)
            found = self._first(query.sql, query.bind(rid=id), compiled=True)
            return None if found is None else self._from_tuple(found, "PUT")
        sql = _CURRENT + (" FOR UPDATE" if for_update and self._for_update_ok else "")
        row = self._first(sql, (resource_type, id))
        return None if row is None else self._from_tuple(row, "PUT")

    def version(self, resource_type: str, id: str, version: int) -> VersionRecord | None:
        if self.access is not None:
            query = access_sql.compiled_version(self.access, resource_type, self.conn.dialect)
            found = self._first(query.sql, query.bind(rid=id, vid=version), compiled=True)
            return None if found is None else self._from_tuple(found, found[8])
        row = self._first(_VERSION, (resource_type, id, version))
        return None if row is None else self._from_tuple(row, row[8])

    def _first(self, sql: str, params: tuple[Any, ...] | dict[str, Any], *,
               compiled: bool = False) -> tuple[Any, ...] | None:
        """One row of a hot-path query, through the driver's cursor (no statement building or
        result wrapping per call); ``compiled``: ``sql`` is already in the driver's parameter style."""
        if self._for_update_ok and not compiled:
            sql = sql.replace("?", "%s")
        if self._for_update_ok:  # PostgreSQL: libpq's prepared-statement call when it can (``prepared``)
            pooled = self.conn.connection
            found = prepared.first_row(pooled.driver_connection, pooled.info, sql, params)
            if found is not prepared.NOT_HANDLED:
                return found  # type: ignore[return-value]
        cursor = self.conn.connection.cursor()
        try:
            cursor.execute(sql, params)
            row = cursor.fetchone()
        finally:
            cursor.close()
        return None if row is None else tuple(row)

    def _from_tuple(self, row: tuple[Any, ...], method: str) -> VersionRecord:
        res_type, res_id, tenant, version, last_updated, deleted, body, erased = row[:8]
        if erased:
            raise _erased(res_type, res_id)
        if body is not None:
            body = self._open(bytes(body), PayloadContext(tenant, res_type, res_id, version))
        return VersionRecord(res_type, res_id, version, last_updated, tenant, bool(deleted),
                             method, body)  # type: ignore[arg-type]

    def _open(self, body: bytes, context: PayloadContext) -> bytes:
        """The payload in the clear; the crypto failures translated into the service's errors."""
        try:
            return self.cipher.open(body, context, self.keys)
        except DataKeyErased:
            raise _erased(context.resource_type, context.id) from None
        except DecryptionError:
            raise StoredDataUnreadable(
                f"{context.resource_type}/{context.id} version {context.version} failed its integrity check "
                "and was not returned; restore it from backup and tell the security officer.") from None
        except KekUnavailable as exc:
            raise ServiceUnavailable(f"The key service is not answering ({exc}); retry shortly.") from None

    def write(self, writes: Sequence[PendingWrite]) -> list[VersionRecord]:
        if not writes:
            return []
        writes = access_sql.keep_patients(self.conn, writes)
        self.check_writes(writes)
        try:
            sealed = [self._seal(w) for w in writes]
            creates = [(w, b) for w, b in zip(writes, sealed, strict=True) if w.expected_version is None]
            keyed = self._insert_current(creates)
            keyed += [(self._update_current(w, b), w) for w, b in zip(writes, sealed, strict=True)
                      if w.expected_version is not None]
            self._replace_index_rows(keyed)
            self._executemany(_VERSION_INSERT, [
                (w.resource_type, w.id, w.version, w.tenant, w.last_updated, w.method, w.deleted, b, w.patient)
                for w, b in zip(writes, sealed, strict=True)])
        except (IntegrityError, psycopg.IntegrityError) as exc:
            raise Conflict(
                "Another request changed or created this resource at the same time; read it again and "
                "retry with If-Match on the version you read."
            ) from exc
        return [self._pending_record(w) for w in writes]

    def history(self, query: HistoryQuery) -> list[VersionRecord]:
        v = resource_versions.c
        stmt = select(resource_versions).where(v.erased == false())
        if self.access is not None:
            stmt = stmt.where(version_visible(self.access, READ_LETTERS, resource_versions))
        if query.resource_type is not None:
            stmt = stmt.where(v.res_type == query.resource_type)
        if query.id is not None:
            stmt = stmt.where(v.res_id == query.id)
        if query.since is not None:
            stmt = stmt.where(v.last_updated >= query.since)
        if query.at is not None:
            later = aliased(resource_versions)
            stmt = stmt.where(v.last_updated <= query.at, ~exists().where(
                later.c.res_type == v.res_type, later.c.res_id == v.res_id,
                later.c.version > v.version, later.c.last_updated <= query.at))
        if query.before_seq is not None:
            stmt = stmt.where(v.seq < query.before_seq)
        rows = self.conn.execute(stmt.order_by(v.seq.desc()).limit(query.count)).all()
        return self._records(rows, lambda r: (r.method, r.seq))

    def search(self, query: SearchQuery) -> SearchPage:
        with self._planned_with_values():
            return self._search(query)

    @contextmanager
    def _planned_with_values(self) -> Iterator[None]:
        """PostgreSQL: the search's statements are sent unprepared, so each is planned with its values.
        psycopg prepares a statement run five times, and PostgreSQL may then plan it once for any values
        (a generic plan), which for a search can be a walk of every candidate (a ``_has`` page took 1.1 s
        instead of 15 ms). Reads by id keep their prepared plans."""
        if self.conn.dialect.name != "postgresql":
            yield
            return
        raw: Any = self.conn.connection.driver_connection
        threshold = raw.prepare_threshold
        raw.prepare_threshold = None
        try:
            yield
        finally:
            raw.prepare_threshold = threshold

    def _search(self, query: SearchQuery) -> SearchPage:
        query, page = planned_page(self.conn, query, self._guard)
        rows = list(self.conn.execute(page).all())
        if len({r.pk for r in rows}) < len(rows):  # a resource with two equal index rows of the driver
            rows = list(self.conn.execute(search_sql.page_statement(query, drive=False, guard=self._guard)).all())
        position = query_position(query)
        backward = position is not None and position.backward
        more = len(rows) > query.count
        rows = rows[: query.count]
        if backward:
            rows.reverse()
        total = None
        if query.total != "none":
            total = int(self.conn.execute(search_sql.count_statement(query, self._guard)).scalar_one())
        records = self._records(rows, lambda r: ("PUT", r.pk))
        keys = [(tuple(r._mapping[f"s{i}"] for i in range(len(query.sort))), int(r.pk)) for r in rows]
        following, preceding = edges(keys, lambda key: key, more_after=more or backward,
                                     more_before=more if backward else position is not None)
        return SearchPage(records, total, following, preceding)

    def read_many(self, keys: Sequence[tuple[str, str]]) -> list[VersionRecord]:
        c = resources.c
        found: list[VersionRecord] = []
        for resource_type, chunk in _by_type(keys):
            rows = self.conn.execute(select(resources).where(
                c.res_type == resource_type, c.res_id.in_(chunk), c.deleted == false(), c.erased == false(),
                self._visible(resources))).all()
            found.extend(self._records(rows, lambda r: ("PUT", r.pk)))
        return found

    def outgoing(self, keys: Sequence[tuple[str, str]], param: str | None) -> list[tuple[str, str]]:
        c, ref = resources.c, idx_reference.c
        found: dict[tuple[str, str], None] = {}
        for resource_type, chunk in _by_type(keys):
            stmt = (select(ref.target_type, ref.target_id).join(resources, c.pk == ref.pk)
                    .where(c.res_type == resource_type, c.res_id.in_(chunk), ref.target_id.is_not(None),
                           self._visible(resources)))
            if param is not None:
                stmt = stmt.where(ref.param == param)
            found.update(((str(t), str(i)), None) for t, i in self.conn.execute(stmt.distinct()).all() if t)
        return list(found)

    def incoming(self, source_type: str | None, param: str | None, targets: Sequence[tuple[str, str]],
                 limit: int) -> list[VersionRecord]:
        ref = idx_reference.c
        pks: dict[int, None] = {}
        for target_type, chunk in _by_type(targets):
            stmt = select(ref.pk).where(ref.target_type == target_type, ref.target_id.in_(chunk))
            if self.access is not None:
                stmt = stmt.join(resources, resources.c.pk == ref.pk).where(
                    resources.c.deleted == false(), self._visible(resources))
            if source_type is not None:
                stmt = stmt.where(ref.res_type == source_type)
            if param is not None:
                stmt = stmt.where(ref.param == param)
            pks.update((int(pk), None) for (pk,) in self.conn.execute(stmt.distinct().limit(limit)).all())
        keys = sorted(pks)[:limit]
        found: list[VersionRecord] = []
        for chunk in _chunks(keys):
            rows = self.conn.execute(select(resources).where(
                resources.c.pk.in_(chunk), resources.c.deleted == false(), resources.c.erased == false())).all()
            found.extend(self._records(rows, lambda r: ("PUT", r.pk)))
        return found

    def check_writes(self, writes: Sequence[PendingWrite]) -> None:
        """Refuse (403) writes the unit of work's access does not allow, before anything is written."""
        if self.access is not None:
            check_sql_writes(self.conn, self.access, access_sql.keep_patients(self.conn, writes))

    def _visible(self, r: Any) -> Any:
        return true() if self._guard is None else self._guard(r)

    def lock(self, key: str) -> None:
        """PostgreSQL: a transaction-scoped advisory lock on the key's hash. SQLite: nothing to do, a
        write unit of work already holds the database's write lock (BEGIN IMMEDIATE)."""
        if self._for_update_ok:
            digest = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big", signed=True)
            self.conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s)", (digest,))

    def imported(self, key: str) -> bool:
        return self.conn.execute(select(import_ledger.c.key).where(import_ledger.c.key == key)).first() is not None

    def record_import(self, key: str) -> None:
        self.conn.execute(import_ledger.insert().values(key=key, imported_at=now_us()))

    def _insert_current(self, creates: Sequence[tuple[PendingWrite, bytes | None]]) -> list[tuple[int, PendingWrite]]:
        if not creates:
            return []
        keys = self._allocate_keys(len(creates))
        self._executemany(_RESOURCE_INSERT, [
            (pk, w.resource_type, w.id, w.tenant, w.version, w.last_updated, w.deleted, body, w.patient)
            for pk, (w, body) in zip(keys, creates, strict=True)])
        return [(pk, w) for pk, (w, _) in zip(keys, creates, strict=True)]

    def _allocate_keys(self, n: int) -> list[int]:
        """Keys for ``n`` new resources: from the sequence on PostgreSQL; on SQLite the write lock
        (BEGIN IMMEDIATE) is held, so the keys after the current maximum are ours."""
        if self._for_update_ok:
            rows = self.conn.exec_driver_sql(
                "SELECT nextval(pg_get_serial_sequence('resources', 'pk')) FROM generate_series(1, %s)", (n,))
            return [int(r[0]) for r in rows]
        top = self.conn.exec_driver_sql("SELECT COALESCE(MAX(pk), 0) FROM resources").scalar_one()
        return list(range(int(top) + 1, int(top) + 1 + n))

    def _update_current(self, w: PendingWrite, body: bytes | None) -> int:
        c = resources.c
        stmt = (
            update(resources)
            .where(and_(c.res_type == w.resource_type, c.res_id == w.id, c.version == w.expected_version))
            .values(tenant=w.tenant, version=w.version, last_updated=w.last_updated, deleted=w.deleted, body=body,
                    patient=w.patient)
            .returning(c.pk)
        )
        pk = self.conn.execute(stmt).scalar()
        if pk is None:
            raise Conflict(
                f"{w.resource_type}/{w.id} changed while this request was being processed; read it "
                "again and retry."
            )
        return int(pk)

    def _replace_index_rows(self, keyed: Sequence[tuple[int, PendingWrite]]) -> None:
        replaced = [pk for pk, w in keyed if w.expected_version is not None]
        if replaced:
            self.delete_index_rows(replaced)
        self.insert_index_rows([(pk, w.resource_type, w.index) for pk, w in keyed
                                if w.index is not None and not w.deleted])

    def delete_index_rows(self, pks: Sequence[int]) -> None:
        """Remove every index row of the resources ``pks``."""
        for table in INDEX_TABLES:
            self.conn.execute(delete(table).where(table.c.pk.in_(pks)))

    def insert_index_rows(self, keyed: Sequence[tuple[int, str, IndexRows]]) -> None:
        """Insert the index rows of (resource key, type, rows), one statement per table."""
        batches: dict[str, list[tuple[Any, ...]]] = {name: [] for name in _ROW_FIELDS}
        slots: dict[str, tuple[str, ...]] = {}
        combined: list[tuple[Any, ...]] = []
        for pk, resource_type, index in keyed:
            for name in _ROW_FIELDS:
                for item in getattr(index, name):
                    if item.param in _COLUMN_PARAMS:
                        continue
                    slots.setdefault(name, item.__slots__)
                    batches[name].append((pk, resource_type, *_values(item)))
            if index.composites:
                combined.extend(composites.table_rows(pk, resource_type, index.composites))
        for name, table in zip(_ROW_FIELDS, VALUE_TABLES, strict=True):
            if batches[name]:
                self._executemany(_index_insert(table, slots[name]), batches[name])
        self._executemany(composites.INSERT, combined)

    def _executemany(self, sql: str, rows: list[tuple[Any, ...]]) -> None:
        """Insert many rows: ``executemany`` on SQLite; on PostgreSQL one ``COPY`` (the INSERT's table
        and columns), which costs the server a fraction of row-by-row statements."""
        if not rows:
            return
        if not self._for_update_ok:
            self.conn.exec_driver_sql(sql, rows)
            return
        head = sql.split(" VALUES", 1)[0].removeprefix("INSERT INTO ")
        cursor = self.conn.connection.cursor()
        try:
            with cursor.copy(f"COPY {head} FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cursor.close()

    def _seal(self, w: PendingWrite) -> bytes | None:
        if w.body is None:
            return None
        try:
            return self.cipher.seal(w.body, PayloadContext(w.tenant, w.resource_type, w.id, w.version, w.patient),
                                    self.keys)
        except KekUnavailable as exc:
            raise ServiceUnavailable(f"The key service is not answering ({exc}); nothing was written, retry "
                                     "shortly.") from None

    def _records(self, rows: Sequence[Row[Any]], how: Callable[[Row[Any]], tuple[str, int]]) -> list[VersionRecord]:
        """The records of a page, leaving out any whose key was shredded while it was being written
        (those rows are not marked erased, but can never be read)."""
        out = []
        for row in rows:
            try:
                out.append(self.record(row, *how(row)))
            except Erased:
                continue
        return out

    def record(self, row: Row[Any], method: str, seq: int = 0) -> VersionRecord:
        """The version a ``resources`` or ``resource_versions`` row holds, its body opened."""
        body = row.body
        if body is not None:
            body = self._open(bytes(body), PayloadContext(row.tenant, row.res_type, row.res_id, row.version))
        return VersionRecord(row.res_type, row.res_id, row.version, row.last_updated, row.tenant,
                             bool(row.deleted), method, body, seq)  # type: ignore[arg-type]

    @staticmethod
    def _pending_record(w: PendingWrite) -> VersionRecord:
        return VersionRecord(w.resource_type, w.id, w.version, w.last_updated, w.tenant, w.deleted,
                             w.method, w.body)

