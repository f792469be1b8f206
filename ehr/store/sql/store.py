"""The SQL implementation of :class:`ehr.store.protocol.Store` (SQLAlchemy Core).

Writes of one unit of work are batched: resource rows, version rows and index rows each go to the
database as one multi-row statement, which keeps a 1,000-entry transaction Bundle to a handful of
round trips. SQLite write transactions start with ``BEGIN IMMEDIATE`` so that concurrent writers
queue on the lock instead of failing; PostgreSQL updates lock the current row (``FOR UPDATE``).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, Engine, Row, and_, delete, exists, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import aliased

from ehr.crypto.boundary import IdentityCipher, PayloadCipher, PayloadContext
from ehr.errors import Conflict
from ehr.search import sql as search_sql
from ehr.search.query import SearchQuery
from ehr.store.protocol import HistoryQuery, SearchPage
from ehr.store.records import PendingWrite, VersionRecord
from ehr.store.sql.schema import INDEX_TABLES, resource_versions, resources

_ROW_FIELDS = ("tokens", "strings", "references", "dates", "numbers", "quantities", "uris")


class SqlStore:
    def __init__(self, engine: Engine, cipher: PayloadCipher | None = None) -> None:
        self.engine = engine
        self.cipher: PayloadCipher = cipher or IdentityCipher()
        self._sqlite = engine.dialect.name == "sqlite"

    @contextmanager
    def unit_of_work(self, *, write: bool) -> Iterator[SqlTx]:
        with self.engine.connect() as conn:
            if self._sqlite:
                conn.connection.info["begin_mode"] = "IMMEDIATE" if write else "DEFERRED"
            with conn.begin():
                yield SqlTx(conn, self.cipher, for_update_ok=not self._sqlite)

    def close(self) -> None:
        self.engine.dispose()


class SqlTx:
    def __init__(self, conn: Connection, cipher: PayloadCipher, *, for_update_ok: bool) -> None:
        self.conn = conn
        self.cipher = cipher
        self._for_update_ok = for_update_ok

    def current(self, resource_type: str, id: str, *, for_update: bool = False) -> VersionRecord | None:
        stmt = select(resources).where(resources.c.res_type == resource_type, resources.c.res_id == id)
        if for_update and self._for_update_ok:
            stmt = stmt.with_for_update()
        row = self.conn.execute(stmt).first()
        return None if row is None else self._record(row, "PUT")

    def version(self, resource_type: str, id: str, version: int) -> VersionRecord | None:
        v = resource_versions.c
        row = self.conn.execute(
            select(resource_versions).where(v.res_type == resource_type, v.res_id == id, v.version == version)
        ).first()
        return None if row is None else self._record(row, row.method)

    def write(self, writes: Sequence[PendingWrite]) -> list[VersionRecord]:
        try:
            creates = [w for w in writes if w.expected_version is None]
            updates = [w for w in writes if w.expected_version is not None]
            sealed = {id(w): self._seal(w) for w in writes}
            keyed = self._insert_current(creates, sealed)
            keyed += [(self._update_current(w, sealed[id(w)]), w) for w in updates]
            self._replace_index_rows(keyed)
            self.conn.execute(resource_versions.insert(), [self._version_row(w, sealed[id(w)]) for w in writes])
        except IntegrityError as exc:
            raise Conflict(
                "Another request changed or created this resource at the same time; read it again and "
                "retry with If-Match on the version you read."
            ) from exc
        return [self._pending_record(w) for w in writes]

    def history(self, query: HistoryQuery) -> list[VersionRecord]:
        v = resource_versions.c
        stmt = select(resource_versions)
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
        return [self._record(r, r.method, seq=r.seq) for r in rows]

    def search(self, query: SearchQuery) -> SearchPage:
        rows = self.conn.execute(search_sql.page_statement(query)).all()
        more = len(rows) > query.count
        rows = rows[: query.count]
        total = None
        if query.total != "none":
            total = int(self.conn.execute(search_sql.count_statement(query)).scalar_one())
        records = [self._record(r, "PUT", seq=r.pk) for r in rows]
        return SearchPage(records, total, str(rows[-1].pk) if more and rows else None)

    def _insert_current(self, creates: Sequence[PendingWrite],
                        sealed: dict[int, bytes | None]) -> list[tuple[int, PendingWrite]]:
        if not creates:
            return []
        stmt = resources.insert().returning(resources.c.pk, sort_by_parameter_order=True)
        keys = self.conn.execute(stmt, [self._current_row(w, sealed[id(w)]) for w in creates]).scalars().all()
        return list(zip(keys, creates, strict=True))

    def _update_current(self, w: PendingWrite, body: bytes | None) -> int:
        c = resources.c
        stmt = (
            update(resources)
            .where(and_(c.res_type == w.resource_type, c.res_id == w.id, c.version == w.expected_version))
            .values(**self._current_row(w, body))
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
        for table in INDEX_TABLES:
            if replaced:
                self.conn.execute(delete(table).where(table.c.pk.in_(replaced)))
        batches: dict[str, list[dict[str, Any]]] = {name: [] for name in _ROW_FIELDS}
        for pk, w in keyed:
            if w.index is None or w.deleted:
                continue
            for name in _ROW_FIELDS:
                for item in getattr(w.index, name):
                    batches[name].append({"pk": pk, "res_type": w.resource_type, **asdict(item)})
        for name, table in zip(_ROW_FIELDS, INDEX_TABLES, strict=True):
            if batches[name]:
                self.conn.execute(table.insert(), batches[name])

    @staticmethod
    def _current_row(w: PendingWrite, body: bytes | None) -> dict[str, Any]:
        return {
            "res_type": w.resource_type, "res_id": w.id, "tenant": w.tenant, "version": w.version,
            "last_updated": w.last_updated, "deleted": w.deleted, "body": body,
        }

    @staticmethod
    def _version_row(w: PendingWrite, body: bytes | None) -> dict[str, Any]:
        return {
            "res_type": w.resource_type, "res_id": w.id, "version": w.version, "tenant": w.tenant,
            "last_updated": w.last_updated, "method": w.method, "deleted": w.deleted, "body": body,
        }

    def _seal(self, w: PendingWrite) -> bytes | None:
        if w.body is None:
            return None
        return self.cipher.seal(w.body, PayloadContext(w.tenant, w.resource_type, w.id, w.version))

    def _record(self, row: Row[Any], method: str, seq: int = 0) -> VersionRecord:
        body = row.body
        if body is not None:
            body = self.cipher.open(body, PayloadContext(row.tenant, row.res_type, row.res_id, row.version))
        return VersionRecord(row.res_type, row.res_id, row.version, row.last_updated, row.tenant,
                             bool(row.deleted), method, body, seq)  # type: ignore[arg-type]

    @staticmethod
    def _pending_record(w: PendingWrite) -> VersionRecord:
        return VersionRecord(w.resource_type, w.id, w.version, w.last_updated, w.tenant, w.deleted,
                             w.method, w.body)

