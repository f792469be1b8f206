"""Group commit of an event loop's audit entries into the journal (``ehr.audit.journal``), synced by a
helper process (``ehr.audit.syncer``).

The entries of every request that ran in one turn of the loop are written together by a callback
queued behind them (``call_soon``): one ``pwrite``, no sync. Then, unless a sync is already in flight,
the helper is asked for one. When it answers, the receipts of everything written before the request
are settled (the responses leave); whatever was written while it synced goes with the next request.
The loop never waits for the disk.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from ehr.audit.appender import settle
from ehr.audit.events import PreparedEvent
from ehr.audit.journal import Journal
from ehr.audit.syncer import Syncer

_Waiting = list[asyncio.Future[None]]


class LoopJournal:
    """One event loop's side of the journal. Used only in that loop's thread."""

    def __init__(self, journal: Journal, loop: asyncio.AbstractEventLoop) -> None:
        self._journal = journal
        self._loop = loop
        self._syncer = Syncer(loop, self._answered, self._lost)
        #: submitted in this turn of the loop, not yet written
        self._queued: list[tuple[Sequence[PreparedEvent], asyncio.Future[None]]] = []
        #: written, waiting for a sync to be asked for
        self._written: _Waiting = []
        #: the sync in flight and the receipts it settles
        self._in_flight: _Waiting | None = None
        self._file = (-1, "")
        self._closed = False

    def submit(self, events: Sequence[PreparedEvent]) -> asyncio.Future[None]:
        """Queue ``events``; the future is done once they are durable in the journal."""
        if self._closed:
            raise RuntimeError("the audit journal is closed")
        if not self._queued:
            self._loop.call_soon(self._write)
        future = self._loop.create_future()
        self._queued.append((events, future))
        return future

    def close(self) -> None:
        """Stop the helper; receipts still waiting fail (their requests were not acknowledged)."""
        self._closed = True
        self._syncer.close()
        self._fail(RuntimeError("the audit journal closed before the entry was durable"))

    def _write(self) -> None:
        batch, self._queued = self._queued, []
        if not batch:
            return
        try:
            self._file = self._journal.write([event for events, _ in batch for event in events], sync=False)
        except Exception as exc:
            settle([future for _, future in batch], exc)
            return
        self._written.extend(future for _, future in batch)
        if self._in_flight is None:
            self._ask()

    def _ask(self) -> None:
        waiting, self._written = self._written, []
        self._in_flight = waiting
        try:
            self._syncer.sync(*self._file)
        except OSError as exc:
            self._in_flight = None
            settle(waiting, exc)

    def _answered(self, ok: bool) -> None:
        waiting, self._in_flight = self._in_flight or [], None
        if not ok:
            self._journal.abandon()
        settle(waiting, None if ok else OSError("the audit journal could not be synced"))
        if self._written and not self._closed:
            self._ask()

    def _lost(self) -> None:
        self._fail(OSError("the audit journal's sync helper stopped"))

    def _fail(self, error: BaseException) -> None:
        waiting = (self._in_flight or []) + self._written
        self._in_flight, self._written = None, []
        settle(waiting, error)

