"""A receipt for one audit entry: done once the entry is durable (committed), or failed with the
error that kept it from being written.

Writes append their entry inside their own transaction, so their receipt is done at once. Reads,
searches and failures are made durable in the audit journal (``ehr.audit.loop_journal`` for an event
loop's entries, settled in that loop once the helper process has synced them; the appender thread for
a thread's), or, with the journal off, appended by the group-commit appender (``ehr.audit.appender``):
in its own thread, or on SQLite in the event loop that submitted them. Their response waits on the
receipt — blocking in a worker thread (:meth:`Receipt.wait`) or, in the event loop, without blocking it
(:meth:`Receipt.settled`). The receipt of an entry submitted from an event loop is an ``asyncio`` future
of that loop, settled there (at most once per batch from another thread): no cross-thread wake-up of the
loop per request, as wrapping a ``concurrent.futures`` future would cost.
"""

from __future__ import annotations

import asyncio
from concurrent.futures import Future


class Receipt:
    __slots__ = ("_future",)

    def __init__(self, future: Future[None] | asyncio.Future[None] | None = None) -> None:
        self._future = future

    @property
    def done(self) -> bool:
        return self._future is None or self._future.done()

    def wait(self, timeout: float | None = None) -> None:
        """Block until the entry is durable; raise what kept it from being written."""
        if self._future is None:
            return
        if isinstance(self._future, asyncio.Future):  # settled by its loop: only awaitable
            if not self._future.done():
                raise RuntimeError("an entry submitted in an event loop is awaited there (settled())")
            self._future.result()
            return
        self._future.result(timeout)

    async def settled(self) -> None:
        """Wait, in the event loop, until the entry is durable; raise what kept it from being written."""
        if self._future is None:
            return
        if self._future.done():
            self._future.result()
            return
        if isinstance(self._future, asyncio.Future):
            await self._future  # a cancelled request cancels it; the commit then skips it
            return
        await asyncio.wrap_future(self._future)


#: the receipt of an entry that is already durable (or of no entry at all, when audit is off)
DONE = Receipt()


def attach(exc: BaseException, receipt: Receipt) -> None:
    """Hand the receipt of a failure's audit entry to the error handler with the exception."""
    exc.audit_receipt = receipt  # type: ignore[attr-defined]


def attached(exc: BaseException) -> Receipt:
    """The receipt attached to ``exc``; DONE when none was."""
    found = getattr(exc, "audit_receipt", None)
    return found if isinstance(found, Receipt) else DONE
