"""Group commit: one appender thread per process batches the audit entries of concurrent reads,
searches and failures into one transaction, and wakes their waiters once it has committed.

While one batch commits (and, on SQLite with ``synchronous=FULL``, is fsynced), new entries queue;
the next transaction takes all of them. So durable read auditing costs about one commit per batch,
not one per request, and a request waits at most for the commit in progress plus its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import threading
from asyncio import _get_running_loop as asyncio_running_loop
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from ehr.audit.events import PreparedEvent
from ehr.audit.receipts import Receipt

log = logging.getLogger("ehr.audit")
#: the most entries one transaction takes; the rest wait for the next
MAX_BATCH = 2000
#: a loop's batch that found the write lock taken is tried again after this long...
RETRY_S = 0.0003
#: ...until it has waited this long; then the appender thread takes it
GIVE_UP_S = 1.0
#: an entry's events and the future its receipt waits on: a ``concurrent.futures`` one when submitted
#: from a thread, an ``asyncio`` one (settled only in its loop) when submitted from an event loop
_Waiter = Future[None] | asyncio.Future[None]
_Item = tuple[Sequence[PreparedEvent], _Waiter]


class GroupCommitter:
    """Runs ``append(events)`` (one transaction) for batches of submitted entries, in its own thread;
    entries submitted from a thread running an event loop are batched in that loop instead
    (``in_loop``, see :class:`LoopBatches`)."""

    def __init__(self, append: Callable[[Sequence[PreparedEvent]], None],
                 in_loop: Callable[[Sequence[PreparedEvent]], bool] | None = None) -> None:
        self._append = append
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False
        self._loops = LoopBatches(in_loop, self._hand_over) if in_loop is not None else None

    def submit(self, events: Sequence[PreparedEvent]) -> Receipt:
        """Queue ``events``; the receipt is done when their transaction has committed."""
        if self._closed:
            raise RuntimeError("the audit appender is closed")
        loop = asyncio_running_loop()
        if loop is not None and self._loops is not None:
            return Receipt(self._loops.submit(events, loop))
        # from an event loop: a future of that loop, which the thread settles per batch
        future: _Waiter = loop.create_future() if loop is not None else Future()
        self._ensure_started()
        self._queue.put((events, future))
        return Receipt(future)

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)

    def _hand_over(self, batch: list[_Item]) -> None:
        """Commit ``batch`` in the appender thread (a loop's batch that found the lock taken)."""
        self._ensure_started()
        for item in batch:
            self._queue.put(item)

    def _ensure_started(self) -> None:
        if self._thread is not None:
            return
        with self._start_lock:
            if self._thread is None:
                thread = threading.Thread(target=self._run, name="audit-appender", daemon=True)
                thread.start()
                self._thread = thread

    def _run(self) -> None:
        stop = False
        while not stop:
            first = self._queue.get()
            if first is None:
                return
            batch = [first]
            count = len(first[0])
            while count < MAX_BATCH:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stop = True
                    break
                batch.append(item)
                count += len(item[0])
            self._commit(batch)

    def _commit(self, batch: list[_Item]) -> None:
        commit(self._append, batch)


def commit(append: Callable[[Sequence[PreparedEvent]], bool | None], batch: list[_Item]) -> bool:
    """One transaction for ``batch``; each waiter learns its outcome. False when ``append`` wrote
    nothing because another writer held the lock (its waiters keep waiting)."""
    try:
        done = append([event for events, _ in batch for event in events])
    except Exception as exc:  # every waiter learns why; their responses fail instead of leaving unaudited
        log.error("audit append failed: %s", type(exc).__name__)
        settle([future for _, future in batch], exc)
        return True
    if done is False:
        return False
    settle([future for _, future in batch], None)
    return True


def settle(futures: Sequence[_Waiter], error: BaseException | None) -> None:
    """Settle ``futures`` with ``error`` (None: success). ``asyncio`` futures of another thread's loop
    are settled in that loop, with one wake-up of the loop per batch, not one per request."""
    here = asyncio_running_loop()
    elsewhere: dict[asyncio.AbstractEventLoop, list[asyncio.Future[None]]] = {}
    for future in futures:
        if isinstance(future, asyncio.Future) and future.get_loop() is not here:
            elsewhere.setdefault(future.get_loop(), []).append(future)
        else:
            _settle_one(future, error)
    for loop, waiting in elsewhere.items():
        with contextlib.suppress(RuntimeError):  # RuntimeError: that loop is closed; nobody waits any more
            loop.call_soon_threadsafe(_settle_all, waiting, error)


def _settle_all(futures: list[asyncio.Future[None]], error: BaseException | None) -> None:
    for future in futures:
        _settle_one(future, error)


def _settle_one(future: _Waiter, error: BaseException | None) -> None:
    if future.done():  # an awaiting request that was cancelled (client gone) cancelled its future
        return
    if error is None:
        future.set_result(None)
    else:
        future.set_exception(error)


class LoopBatches:
    """Group commit inside the event loop: the entries of every request that ran in one turn of the
    loop are committed together by a callback queued behind them (``call_soon``), in the loop's own
    thread. That thread already holds the interpreter lock, so the commit never waits for it, where
    an appender thread would wait for the busy loop to yield at every driver call; the loop is blocked
    for the commit itself (its ``fsync`` included), which the batch's requests were waiting for
    anyway. ``append`` never waits for the write lock: when another writer (another worker process)
    holds it, the loop tries again a little later (:data:`RETRY_S`; entries of the requests served
    meanwhile join the batch), and after :data:`GIVE_UP_S` hands the batch to the appender thread,
    which waits for the lock instead of the loop (a long transaction elsewhere)."""

    def __init__(self, append: Callable[[Sequence[PreparedEvent]], bool],
                 hand_over: Callable[[list[_Item]], None]) -> None:
        self._append = append
        self._hand_over = hand_over
        self._pending: dict[asyncio.AbstractEventLoop, list[_Item]] = {}

    def submit(self, events: Sequence[PreparedEvent], loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """Batch ``events`` in ``loop``, this thread's running loop; the future (of that loop) is settled
        when they are committed."""
        pending = self._pending.get(loop)
        if pending is None:
            pending = self._pending[loop] = []
            loop.call_soon(self._flush, loop, 0.0)
        future: asyncio.Future[None] = loop.create_future()
        pending.append((events, future))
        return future

    def _flush(self, loop: asyncio.AbstractEventLoop, waited: float) -> None:
        batch = self._pending.pop(loop, [])
        if not batch:
            return
        if commit(self._append, batch):
            return
        if waited >= GIVE_UP_S:  # a long writer: the appender thread waits, not the loop
            self._hand_over(batch)
            return
        later = self._pending.get(loop)
        if later is None:  # nothing submitted since: retry on a timer
            self._pending[loop] = batch
            loop.call_later(RETRY_S, self._flush, loop, waited + RETRY_S)
        else:  # a flush is already queued for the newer entries: they go together
            later[:0] = batch
