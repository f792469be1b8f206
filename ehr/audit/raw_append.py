"""The group-commit appender's own database connection: one batch of audit entries is one transaction
of four or five driver calls (lock, head, insert, commit), with no ORM layer in between.

Why: the appender thread shares the interpreter lock with the event loop that serves reads. Every
driver call releases the lock and must win it back, and each SQLAlchemy step around a call costs
interpreter time the loop is waiting for; measured in the server under 16 concurrent reads, a batch
took 3–5 ms through SQLAlchemy against 0.6 ms alone, and the appender, busy 96 % of the time, set
the pace of every read. The statements are the same as ``SqlAuditLog.append``'s (and the chain is
built by the same ``link``); the connection is checked out of the store's engine once, so it has
the engine's settings (WAL, ``synchronous=FULL``), and is replaced after any error.

SQLite: ``BEGIN IMMEDIATE`` under the store's writer lock (``SqlStore.writer_lock``), like every
write. PostgreSQL: the audit chain's transaction-scoped advisory lock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ehr.audit.checkpoints import Checkpoint
from ehr.audit.events import PreparedEvent
from ehr.audit.hashing import GENESIS
from ehr.audit.journal import Pending
from ehr.store.sql.store import SqlStore

COLUMNS = ("seq", "recorded", "tenant", "agent", "interaction", "action", "status", "outcome", "patient",
            "patient_tenant", "resources", "purpose", "roles", "break_glass", "denied", "entry", "chain")
_HEAD = "SELECT seq, chain FROM audit_log ORDER BY seq DESC LIMIT 1"



def row_values(seq: int, item: PreparedEvent, entry: bytes, chain: bytes) -> tuple[Any, ...]:
    """One ``audit_log`` row, in the order of :data:`COLUMNS`."""
    return (seq, item.recorded, item.tenant, item.agent, item.interaction, item.action, item.status, item.outcome,
            item.patient, item.patient_tenant, " ".join(item.resources), item.purpose, " ".join(item.roles),
            item.break_glass, item.denied, entry, chain)


Link = Callable[[int, bytes, list[Any]], Any]
Sign = Callable[[int, bytes], Checkpoint]


class RawAppender:
    def __init__(self, store: SqlStore, lock: tuple[int, int], checkpoint_every: int, *,
                 wal_autocheckpoint: bool = True) -> None:
        """``wal_autocheckpoint`` False (SQLite): this connection's commits never copy the WAL back
        into the database file (a checkpoint of a large WAL takes hundreds of milliseconds, which an
        event loop must not spend); someone else checkpoints (``checkpoint_wal``)."""
        self.store = store
        self._autocheckpoint = wal_autocheckpoint
        self._postgres = store.engine.dialect.name == "postgresql"
        mark = "%s" if self._postgres else "?"
        self._insert = (f"INSERT INTO audit_log ({', '.join(COLUMNS)}) "  # noqa: S608 (no input in it)
                        f"VALUES ({', '.join([mark] * len(COLUMNS))})")
        self._checkpoint = ("INSERT INTO audit_checkpoints (size, head, created, key_id, signature) "  # noqa: S608
                            f"VALUES ({', '.join([mark] * 5)})")
        self._drained = f"SELECT drained FROM audit_journal WHERE id = {mark}"  # noqa: S608 (no input in it)
        self._mark = ("INSERT INTO audit_journal (id, drained) "  # noqa: S608 (no input in it)
                      f"VALUES ({mark}, {mark}) ON CONFLICT (id) DO UPDATE SET drained = excluded.drained")
        self._lock = lock
        self._every = checkpoint_every
        self._connection: Any = None

    def append(self, events: Sequence[PreparedEvent], link: Link, sign: Sign, *, wait: bool = True,
               journal: Pending | None = None) -> bool:
        """Append ``events`` in one transaction of the appender's connection (made on first use).
        ``wait=False``: return False at once, appending nothing, when another writer holds the lock.
        ``journal``: ``events`` are that journal file's (``journal.events``, ends at ``journal.ends``);
        those the log already holds (by its record of how far the file is drained) are skipped, and
        the record moves on."""
        if self._connection is None:
            self._connection = self.store.engine.raw_connection()
            if not self._postgres and not self._autocheckpoint:
                self._connection.driver_connection.execute("PRAGMA wal_autocheckpoint=0")
        try:
            if self._postgres:
                return self._append(events, link, sign, wait, journal)
            try:
                with self.store.writer_lock(wait=wait):
                    return self._append(events, link, sign, wait, journal)
            except BlockingIOError:
                return False
        except BaseException:
            self.close()  # a fresh connection next time: this one may be broken or mid-transaction
            raise

    def _append(self, events: Sequence[PreparedEvent], link: Link, sign: Sign, wait: bool,
                journal: Pending | None) -> bool:
        raw = self._connection.driver_connection
        cursor = raw.cursor()
        try:
            if self._postgres and wait:
                cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", self._lock)
            elif self._postgres:
                cursor.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", self._lock)
                if not cursor.fetchone()[0]:
                    raw.rollback()
                    return False
            else:
                cursor.execute("BEGIN IMMEDIATE")
            cursor.execute(_HEAD)
            found = cursor.fetchone()
            size, chain = (0, GENESIS) if found is None else (int(found[0]), bytes(found[1]))
            if journal is not None:
                cursor.execute(self._drained, (journal.journal,))
                done = cursor.fetchone()
                drained = -1 if done is None else int(done[0])
                events = [e for e, end in zip(events, journal.ends, strict=True) if end > drained]
                cursor.execute(self._mark, (journal.journal, max(drained, journal.ends[-1])))
            rows = []
            for item, (seq, entry, linked) in zip(events, link(size, chain, [e.event for e in events]), strict=True):
                rows.append(row_values(seq, item, entry, linked))
                if seq % self._every == 0:
                    cp = sign(seq, linked)
                    cursor.execute(self._checkpoint, (cp.size, cp.head, cp.time, cp.key_id, cp.signature))
            if rows:
                cursor.executemany(self._insert, rows)
            if self._postgres:
                raw.commit()
            else:
                cursor.execute("COMMIT")
            return True
        except BaseException:
            if self._postgres:
                raw.rollback()
            elif raw.in_transaction:
                raw.execute("ROLLBACK")
            raise
        finally:
            cursor.close()

    def checkpoint_wal(self) -> None:
        """Copy what the WAL holds back into the SQLite database file, without waiting for readers or
        writers (``PASSIVE``), on a connection of its own."""
        with self.store.engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA wal_checkpoint(PASSIVE)")

    def close(self) -> None:
        if self._connection is not None:
            connection, self._connection = self._connection, None
            connection.invalidate()
