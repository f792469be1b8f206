"""The audit journal (``ehr.audit.journal``): records round-trip and a torn or damaged tail is dropped;
a file is locked while its process lives and found as an orphan after; draining appends every entry
exactly once, however often it is repeated and wherever a crash cut it; an event loop's entries are
durable (synced by the helper process) before their receipts settle, and a helper that dies fails the
receipts waiting on it instead of leaving them waiting."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehr.api.app import open_audit_log, open_store
from ehr.audit.boundary import AuditRecord, Touched
from ehr.audit.events import PreparedEvent, prepare_events
from ehr.audit.journal import Journal, Pending, decode, encode, orphans, written_end
from ehr.audit.log import SqlAuditLog, link
from ehr.audit.loop_journal import LoopJournal
from ehr.settings import Settings


def _events(n: int, user: str = "u") -> list[PreparedEvent]:
    out: list[PreparedEvent] = []
    for i in range(n):
        touched = (Touched(f"Observation/o{i}", (f"Patient/p{i}",), "h1"),)
        out += prepare_events(AuditRecord("read", "h1", f"{user}{i}", 200, "Observation", f"o{i}", touched,
                                          roles=("clinician",), purpose_of_use="TREAT"), 1_700_000_000_000_000 + i)
    return out


@given(st.lists(st.tuples(st.text(max_size=20), st.integers(100, 599), st.booleans()), max_size=8))
def test_records_round_trip(fields: list[tuple[str, int, bool]]) -> None:
    events = [e for agent, status, glass in fields
              for e in prepare_events(AuditRecord("search-type", "t", agent, status, break_glass=glass), 5)]
    data = b"".join(encode(e) for e in events)
    decoded = list(decode(data))
    assert [e for e, _ in decoded] == events
    assert [end for _, end in decoded][-1:] == ([len(data)] if events else [])


def test_a_torn_or_damaged_record_ends_the_journal() -> None:
    records = [encode(e) for e in _events(3)]
    whole = b"".join(records)
    assert len(list(decode(whole[:-1]))) == 2  # the last one torn
    damaged = bytearray(whole)
    damaged[len(records[0]) + 20] ^= 0xFF  # a byte of the second one's payload
    assert len(list(decode(bytes(damaged)))) == 1
    assert len(list(decode(whole + bytes(4096)))) == 3  # the zeros allocated ahead are no record


def test_written_end_is_after_the_last_record_not_the_allocated_zeros(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.write(_events(4))
    (path,) = tmp_path.glob("*.jnl")
    assert path.stat().st_size >= 1 << 20  # allocated ahead
    pending = journal.pending(10)
    assert pending is not None
    assert written_end(path, 0) == pending.ends[-1]
    assert written_end(path, pending.ends[1]) == pending.ends[-1]
    journal.close()


def test_a_live_journal_is_no_orphan_and_a_closed_undrained_one_is(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.write(_events(2))
    assert list(orphans(tmp_path)) == []
    assert (next(tmp_path.glob("*.jnl")).stat().st_mode & 0o777) == 0o600
    journal.close()  # not drained: left for the next process
    (orphan,) = list(orphans(tmp_path))
    assert [e for e, _ in orphan.entries(0)] == _events(2)
    orphan.release(remove=True)
    assert list(tmp_path.glob("*.jnl")) == []


def test_a_drained_journal_is_removed_when_closed(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    journal.write(_events(3))
    pending = journal.pending(2)
    assert pending is not None
    assert len(pending.events) == 2
    journal.drained(pending)
    assert len(journal) == 1
    rest = journal.pending(10)
    assert rest is not None
    journal.drained(rest)
    journal.close()
    assert list(tmp_path.glob("*.jnl")) == []


def _log(db_url: str, data_dir: Path) -> SqlAuditLog:
    return open_audit_log(open_store(Settings(db_url=db_url, data_dir=data_dir)), Settings(data_dir=data_dir))


def test_an_orphan_is_drained_exactly_once_wherever_a_crash_cut_its_drain(db_url: str, tmp_path: Path) -> None:
    events = _events(7)
    journal = Journal(tmp_path / "audit-journal")
    journal.write(events[:4])
    journal.write(events[4:])
    first = journal.pending(3)
    assert first is not None
    log = _log(db_url, tmp_path)
    try:
        # a process drained its first three entries, then died before it marked them in memory
        log._drain_raw.append(first.events, link, log._sign, journal=first)
        journal.close()  # what a death does: the lock goes, the file stays
        assert log.recover() == 7  # read all seven; appended only the four the log lacked
        assert log.recover() == 0  # the file is gone
        rows = list(log.rows())
        assert [r.agent for r in rows] == [e.agent for e in events]
        assert log.verify().intact
    finally:
        log.close()
        log.store.close()


def test_a_replayed_drain_appends_nothing_twice(db_url: str, tmp_path: Path) -> None:
    events = _events(5)
    journal = Journal(tmp_path / "audit-journal")
    journal.write(events)
    pending = journal.pending(10)
    assert pending is not None
    log = _log(db_url, tmp_path)
    try:
        log._drain_raw.append(pending.events, link, log._sign, journal=pending)
        log._drain_raw.append(pending.events, link, log._sign, journal=pending)  # the same drain again
        overlapping = Pending(pending.journal, pending.events[2:], pending.ends[2:])
        log._drain_raw.append(overlapping.events, link, log._sign, journal=overlapping)
        assert log.size() == 5
    finally:
        journal.close()
        log.close()
        log.store.close()


def test_reads_of_the_log_wait_for_another_live_process_to_drain(db_url: str, tmp_path: Path) -> None:
    """A reader sees what another process's journal held when the read began: here that process is a
    second log instance (its own journal file) whose entries a thread drains a moment later."""
    writer, reader = _log(db_url, tmp_path), _log(db_url, tmp_path)
    try:
        assert writer._journal is not None
        writer._journal.write(_events(3, "other"))
        writer._start_drain_thread()
        assert [r.agent for r in reader.rows()] == ["other0", "other1", "other2"]
    finally:
        for log in (writer, reader):
            log.close()
            log.store.close()


def test_reads_of_the_log_drain_a_journal_whose_process_finishes_dying_meanwhile(db_url: str,
                                                                                  tmp_path: Path) -> None:
    """A killed process keeps its journal locked until its last thread has exited (a thread in a disk
    sync may hold it for a while), so the reader that opens the log just after finds no orphan yet; it
    still sees the entries, drained once the lock is free (the crash test met this under load)."""
    dying = Journal(tmp_path / "audit-journal")
    dying.write(_events(3, "dying"))
    reader = _log(db_url, tmp_path)  # its recovery skips the locked file
    try:
        threading.Timer(0.2, dying.close).start()  # the lock goes, the file stays: an orphan
        assert [r.agent for r in reader.rows()] == ["dying0", "dying1", "dying2"]
        assert list((tmp_path / "audit-journal").glob("*.jnl")) == []
    finally:
        reader.close()
        reader.store.close()


def test_a_loops_entries_are_durable_before_their_receipts_settle(tmp_path: Path) -> None:
    journal = Journal(tmp_path)

    async def run() -> tuple[int, int]:
        side = LoopJournal(journal, asyncio.get_running_loop())
        try:
            futures = [side.submit(_events(1, f"r{n}-")) for n in range(5)]
            await asyncio.gather(*futures)
            synced = sum(1 for _ in decode(next(tmp_path.glob("*.jnl")).read_bytes()))
            more = [side.submit(_events(1, f"s{n}-")) for n in range(3)]
            await asyncio.gather(*more)
            return synced, len(journal)
        finally:
            side.close()

    synced, pending = asyncio.run(run())
    assert (synced, pending) == (5, 8)
    journal.close()


def test_a_helper_that_dies_fails_the_waiting_receipts_and_is_replaced(tmp_path: Path) -> None:
    journal = Journal(tmp_path)

    async def run() -> tuple[BaseException | None, None]:
        side = LoopJournal(journal, asyncio.get_running_loop())
        try:
            await side.submit(_events(1))
            process = side._syncer._process
            assert process is not None
            os.kill(process.pid, signal.SIGKILL)
            process.wait()
            failed = await asyncio.gather(side.submit(_events(1, "x")), return_exceptions=True)
            error = failed[0] if isinstance(failed[0], BaseException) else None
            await side.submit(_events(1, "y"))  # a new helper
            return error, None
        finally:
            side.close()

    error, _ = asyncio.run(run())
    assert isinstance(error, OSError)
    journal.close()


def test_the_journal_folder_and_files_are_private(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "audit-journal")
    journal.write(_events(1))
    assert (tmp_path / "audit-journal").stat().st_mode & 0o777 == 0o700
    with pytest.raises(StopIteration):
        next(p for p in (tmp_path / "audit-journal").iterdir() if p.stat().st_mode & 0o077)
    journal.close()


def test_records_cross_the_allocation_steps_intact(tmp_path: Path) -> None:
    journal = Journal(tmp_path)
    written = 0
    while written < (3 << 20) // 2:  # past the first 1 MiB step
        batch = _events(50, f"b{written}-")
        journal.write(batch)
        written += sum(len(encode(e)) for e in batch)
    (path,) = tmp_path.glob("*.jnl")
    size = path.stat().st_size
    assert size % (1 << 20) == 0
    assert size >= written
    decoded = list(decode(path.read_bytes()))
    assert len(decoded) == len(journal)
    assert decoded[-1][1] == written == written_end(path, 0)
    journal.close()
