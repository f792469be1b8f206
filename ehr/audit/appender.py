"""Group commit: one appender thread per process batches the audit entries of concurrent reads,
searches and failures into one transaction, and wakes their waiters once it has committed.

While one batch commits (and, on SQLite with ``synchronous=FULL``, is fsynced), new entries queue;
the next transaction takes all of them. So durable read auditing costs about one commit per batch,
not one per request, and a request waits at most for the commit in progress plus its own.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future

from ehr.audit.events import PreparedEvent
from ehr.audit.receipts import Receipt

log = logging.getLogger("ehr.audit")
#: the most entries one transaction takes; the rest wait for the next
MAX_BATCH = 2000
_Item = tuple[Sequence[PreparedEvent], Future[None]]


class GroupCommitter:
    """Runs ``append(events)`` (one transaction) for batches of submitted entries, in its own thread."""

    def __init__(self, append: Callable[[Sequence[PreparedEvent]], None]) -> None:
        self._append = append
        self._queue: queue.SimpleQueue[_Item | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()
        self._closed = False

    def submit(self, events: Sequence[PreparedEvent]) -> Receipt:
        """Queue ``events``; the receipt is done when their transaction has committed."""
        if self._closed:
            raise RuntimeError("the audit appender is closed")
        future: Future[None] = Future()
        self._ensure_started()
        self._queue.put((events, future))
        return Receipt(future)

    def close(self) -> None:
        """Commit what is queued, then stop the thread."""
        self._closed = True
        if self._thread is not None:
            self._queue.put(None)
            self._thread.join(timeout=30)

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
        try:
            self._append([event for events, _ in batch for event in events])
        except Exception as exc:  # every waiter learns why; their responses fail instead of leaving unaudited
            log.error("audit append failed: %s", type(exc).__name__)
            for _, future in batch:
                future.set_exception(exc)
            return
        for _, future in batch:
            future.set_result(None)
