"""The audit journal: where a process's read, search and failure entries become durable before their
responses leave, to be chained into the SQL log (``ehr.audit.log``) shortly after, many at a time.

Why: committing each event-loop turn's few entries as an SQL transaction of their own (lock, head,
insert into a table with four indexes, commit, ``fsync``), in the loop or in a thread, held reads to
about half of what they are without audit (BENCHMARKS.md). Writing the same entries to a file and
``fdatasync``-ing it is durable too; the sync runs in a helper process (``ehr.audit.syncer``,
``ehr.audit.loop_journal``), so the loop never waits for the disk, and the SQL transactions carry a
drain interval's entries each, off the requests' path. Measured: about 7 % more reads on SQLite and
10–16 % on PostgreSQL than committing each batch (BENCHMARKS.md, 2026-12-07 (day)).

One file per process (``<uuid>.jnl`` in the journal folder, mode 0600, created on first write),
locked with ``flock`` while its process lives, and allocated ahead (zeros written and synced) so that
a sync writes data, not the file's new size. A record is::

    length (4 bytes, big-endian) | CRC-32 of the payload (4 bytes) | payload
    payload = JSON array of the entry's indexed columns | "\\n" | the canonical AuditEvent

A batch of records is written with one ``pwrite``; :meth:`Journal.write` syncs it before it returns,
or (``sync=False``) leaves the sync to the caller. Draining appends the entries to the SQL log and, in
the same transaction, records how far the file is drained (``audit_journal``), so that a crash at any
point neither loses nor repeats an entry. A file left by a process that died (its lock is free) is
drained by the next process that opens the log (:func:`orphans`); a torn record at its end was never
acknowledged, and is dropped with what follows it.

What the journal reveals on disk is what an entry in the log reveals: references and codes, never PHI.
Tamper evidence starts when an entry is chained; an entry waits in the journal for about the drain
interval (``Settings.audit_drain_ms``, 50 ms) while its process lives.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import struct
import threading
import uuid
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from ehr.audit.events import PreparedEvent

_HEADER = struct.Struct(">II")
SUFFIX = ".jnl"
#: a journal whose entries are all drained is replaced by a fresh file once it is this large
ROTATE_BYTES = 64 << 20
#: a file is allocated ahead, this much at a time (zeros written, and synced with the records that
#: reach them), so that a sync writes data only, not the file's new size. A small step: each one adds
#: its size to one sync (doubling steps made a few syncs flush 16–32 MiB, and put p99 at 80–114 ms
#: against 13–14 ms, BENCHMARKS.md)
ALLOCATE_STEP = 1 << 20
_ZEROS = bytes(ALLOCATE_STEP)


def encode(event: PreparedEvent) -> bytes:
    """One record of ``event``."""
    columns = orjson.dumps((event.recorded, event.tenant, event.agent, event.interaction, event.action, event.status,
                            event.outcome, event.patient, event.patient_tenant, event.resources, event.purpose,
                            event.roles, event.break_glass, event.denied))
    payload = columns + b"\n" + event.event
    return _HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def decode(data: bytes, offset: int = 0) -> Iterator[tuple[PreparedEvent, int]]:
    """(entry, offset just after its record) of every whole, intact record from ``offset`` on; stops at
    the first torn or damaged one."""
    while offset + _HEADER.size <= len(data):
        length, crc = _HEADER.unpack_from(data, offset)
        if length == 0:  # the zeros after the last record (the file is allocated ahead)
            return
        start, end = offset + _HEADER.size, offset + _HEADER.size + length
        payload = data[start:end]
        if end > len(data) or zlib.crc32(payload) != crc:
            return
        columns, _, event = payload.partition(b"\n")
        try:
            (recorded, tenant, agent, interaction, action, status, outcome, patient, patient_tenant, resources,
             purpose, roles, break_glass, denied) = orjson.loads(columns)
        except (ValueError, TypeError):
            return
        yield PreparedEvent(event, recorded, tenant, agent, interaction, action, status, outcome, patient,
                            patient_tenant, tuple(resources), purpose, tuple(roles), break_glass, denied), end
        offset = end


@dataclass(frozen=True, slots=True)
class Pending:
    """Entries waiting to be drained: the file they are in, and how far it is drained once they are."""

    journal: str
    events: list[PreparedEvent]
    #: the offset just after each entry's record: the log keeps, per file, how far it is drained
    ends: list[int]


class Journal:
    """This process's journal file. Thread-safe; draining is one drainer at a time (the caller's lock)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._lock = threading.Lock()
        self._fd: int | None = None
        self._id = ""
        self._end = 0
        self._allocated = 0
        #: entries written and not yet drained: (entry, its file, the offset just after its record)
        self._pending: list[tuple[PreparedEvent, str, int]] = []

    def write(self, events: Sequence[PreparedEvent], *, sync: bool = True) -> tuple[int, str]:
        """Append ``events`` and make them durable; raise (nothing acknowledged) when that failed.
        ``sync=False``: only write them; the caller has the file synced (the returned descriptor, and
        the file's name, which tells a new file from an old one whose descriptor number was reused)."""
        records = [encode(event) for event in events]
        with self._lock:
            fd = self._fd if self._fd is not None else self._open()
            data = b"".join(records)
            try:
                if self._end + len(data) > self._allocated:  # synced with the records
                    self._allocate(fd, max(len(data), ALLOCATE_STEP))
                written = 0
                while written < len(data):
                    written += os.pwrite(fd, data[written:], self._end + written)
                if sync:
                    os.fdatasync(fd)
            except BaseException:
                self._close_file()  # its state on disk is unknown: the next write starts a fresh file
                raise
            end = self._end
            for event, record in zip(events, records, strict=True):
                end += len(record)
                self._pending.append((event, self._id, end))
            self._end = end
            return fd, self._id

    def pending(self, limit: int) -> Pending | None:
        """The oldest entries not yet drained, at most ``limit``, all of one file; None when there are none."""
        with self._lock:
            if not self._pending:
                return None
            journal = self._pending[0][1]
            taken = [item for item in self._pending[:limit] if item[1] == journal]
            return Pending(journal, [event for event, _, _ in taken], [end for _, _, end in taken])

    def drained(self, done: Pending) -> None:
        """``done`` (from :meth:`pending`) is in the log. A file with nothing left to drain is removed
        when it is no longer written to, or when it has grown large (the next write starts a new one)."""
        with self._lock:
            del self._pending[:len(done.events)]
            if any(journal == done.journal for _, journal, _ in self._pending[:1]):
                return
            if done.journal != self._id or self._fd is None:
                self._remove(done.journal)
            elif self._end >= ROTATE_BYTES:
                self._close_file()
                self._remove(done.journal)

    def abandon(self) -> None:
        """Stop writing to the current file (a sync of it failed: what it holds on disk is unknown);
        its entries stay pending, the next write starts a new file."""
        with self._lock:
            self._close_file()

    def files(self) -> set[str]:
        """The files this journal writes or still has entries in."""
        with self._lock:
            return {journal for _, journal, _ in self._pending} | ({self._id} if self._fd is not None else set())

    def __len__(self) -> int:
        with self._lock:
            return len(self._pending)

    def close(self) -> None:
        """Stop writing; remove the file when everything in it is drained, else leave it (and its lock
        free) for :func:`orphans`."""
        with self._lock:
            current = self._id if self._fd is not None else None
            self._close_file()
            if current is not None and not self._pending:
                self._remove(current)

    def _open(self) -> int:
        """A new file, locked before it gets the name that :func:`orphans` looks for."""
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = uuid.uuid4().hex
        temporary = self.folder / f"{name}.new"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        self._allocated = 0
        self._allocate(fd, ALLOCATE_STEP)
        os.fsync(fd)
        os.rename(temporary, self.folder / f"{name}{SUFFIX}")
        _sync_folder(self.folder)
        self._fd, self._id, self._end = fd, name, 0
        return fd

    def _allocate(self, fd: int, size: int) -> None:
        """Write ``size`` more bytes of zeros (rounded up to whole steps) after what is allocated."""
        end = self._allocated + -(-size // len(_ZEROS)) * len(_ZEROS)
        for offset in range(self._allocated, end, len(_ZEROS)):
            os.pwrite(fd, _ZEROS, offset)
        self._allocated = end

    def _close_file(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def _remove(self, journal: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            (self.folder / f"{journal}{SUFFIX}").unlink()


@dataclass(frozen=True, slots=True)
class Orphan:
    """A journal file whose process is gone, locked by us until :meth:`release`."""

    journal: str
    path: Path
    fd: int

    def entries(self, offset: int) -> Iterator[tuple[PreparedEvent, int]]:
        return decode(self.path.read_bytes(), offset)

    def release(self, *, remove: bool) -> None:
        if remove:
            with contextlib.suppress(FileNotFoundError):
                self.path.unlink()
        os.close(self.fd)


def orphans(folder: Path) -> Iterator[Orphan]:
    """The journal files in ``folder`` whose lock is free (their process died before draining them)."""
    if not folder.is_dir():
        return
    for path in sorted(folder.glob(f"*{SUFFIX}")):
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:  # drained and removed meanwhile
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:  # a live process's journal
            os.close(fd)
            continue
        yield Orphan(path.name[:-len(SUFFIX)], path, fd)


def written_end(path: Path, offset: int) -> int:
    """The offset just after the last whole record of the file at ``path``, reading from ``offset``
    (a record boundary) on."""
    with path.open("rb") as handle:
        while True:
            handle.seek(offset)
            header = handle.read(_HEADER.size)
            if len(header) < _HEADER.size:
                return offset
            length, _ = _HEADER.unpack(header)
            if length == 0:
                return offset
            offset += _HEADER.size + length


def _sync_folder(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
