"""Group commit: entries submitted concurrently are committed in few transactions, in submission
order, and every waiter learns the outcome of its own transaction — success or the error."""

from __future__ import annotations

import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor

import pytest

from ehr.audit.appender import GroupCommitter
from ehr.audit.boundary import AuditRecord
from ehr.audit.events import PreparedEvent, prepare_events


def _event(n: int) -> list[PreparedEvent]:
    return prepare_events(AuditRecord("read", "t", f"user-{n}", 200), n)


class SlowStore:
    """Commits take a while (as an fsync does), so submissions pile up behind the one in progress."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.release = threading.Event()

    def append(self, events: Sequence[PreparedEvent]) -> None:
        self.release.wait(timeout=10)
        self.batches.append([e.agent for e in events])


def test_concurrent_entries_share_transactions() -> None:
    store = SlowStore()
    committer = GroupCommitter(store.append)
    first = committer.submit(_event(0))  # occupies the appender until released
    with ThreadPoolExecutor(max_workers=8) as pool:
        receipts = list(pool.map(lambda n: committer.submit(_event(n)), range(1, 50)))
    store.release.set()
    for receipt in [first, *receipts]:
        receipt.wait(timeout=10)
        assert receipt.done
    committer.close()
    assert sorted(agent for batch in store.batches for agent in batch) == sorted(f"user-{n}" for n in range(50))
    assert len(store.batches) < 10  # 50 entries, a handful of commits


def test_a_failed_commit_fails_its_waiters_only() -> None:
    calls = {"n": 0}

    def append(events: Sequence[PreparedEvent]) -> None:
        calls["n"] += 1
        if calls["n"] == 1:
            raise OSError("disk full")

    committer = GroupCommitter(append)
    failed = committer.submit(_event(1))
    with pytest.raises(OSError, match="disk full"):
        failed.wait(timeout=10)
    committer.submit(_event(2)).wait(timeout=10)
    committer.close()
    with pytest.raises(RuntimeError):
        committer.submit(_event(3))



def test_settled_in_an_event_loop() -> None:
    import asyncio

    committer = GroupCommitter(lambda events: None)

    async def main() -> None:
        receipt = committer.submit(_event(1))
        await receipt.settled()
        assert receipt.done

    asyncio.run(main())
    committer.close()


def test_a_loops_requests_of_one_turn_share_one_commit_in_the_loop_thread() -> None:
    import asyncio

    batches: list[tuple[int, list[str]]] = []

    def in_loop(events: Sequence[PreparedEvent]) -> bool:
        batches.append((threading.get_ident(), [e.agent for e in events]))
        return True

    committer = GroupCommitter(lambda events: None, in_loop)

    async def main() -> int:
        receipts = [committer.submit(_event(n)) for n in range(5)]  # one turn of the loop
        for receipt in receipts:
            await receipt.settled()
        await committer.submit(_event(5)).settled()  # a later turn: a commit of its own
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    committer.close()
    assert batches == [(loop_thread, [f"user-{n}" for n in range(5)]), (loop_thread, ["user-5"])]


def test_a_loops_batch_that_finds_the_lock_taken_is_committed_by_the_appender_thread() -> None:
    import asyncio

    threaded: list[tuple[int, list[str]]] = []

    def append(events: Sequence[PreparedEvent]) -> None:
        threaded.append((threading.get_ident(), [e.agent for e in events]))

    committer = GroupCommitter(append, lambda events: False)  # another writer always holds the lock

    async def main() -> int:
        receipts = [committer.submit(_event(n)) for n in range(3)]
        for receipt in receipts:
            await receipt.settled()
            assert receipt.done
        return threading.get_ident()

    loop_thread = asyncio.run(main())
    committer.close()
    assert sorted(agent for _, batch in threaded for agent in batch) == ["user-0", "user-1", "user-2"]
    assert all(thread != loop_thread for thread, _ in threaded)


def test_a_loops_batch_waits_its_turn_in_the_loop_while_another_writer_commits() -> None:
    import asyncio

    tries: list[list[str]] = []

    def in_loop(events: Sequence[PreparedEvent]) -> bool:
        tries.append([e.agent for e in events])
        return len(tries) > 2  # the lock is taken twice, then free

    committer = GroupCommitter(lambda events: pytest.fail("handed to the thread"), in_loop)

    async def main() -> None:
        receipts = [committer.submit(_event(n)) for n in range(3)]
        for receipt in receipts:
            await receipt.settled()

    asyncio.run(main())
    committer.close()
    assert tries == [["user-0", "user-1", "user-2"]] * 3


def test_a_cancelled_request_leaves_the_other_waiters_of_its_batch_settled() -> None:
    """A client that goes away cancels its request while it awaits its entry; the entry is still
    committed with its batch, and every other waiter of that batch still learns the outcome."""
    import asyncio

    tries: list[list[str]] = []

    def in_loop(events: Sequence[PreparedEvent]) -> bool:
        tries.append([e.agent for e in events])
        return len(tries) > 1  # the first try finds the lock taken: the batch waits for a retry

    committer = GroupCommitter(lambda events: pytest.fail("handed to the thread"), in_loop)

    async def main() -> None:
        receipts = [committer.submit(_event(n)) for n in range(3)]
        gone = asyncio.ensure_future(receipts[1].settled())
        await asyncio.sleep(0)  # it starts awaiting, the first try fails...
        assert not gone.done()
        gone.cancel()  # ...and its client disconnects before the retry
        for receipt in (receipts[0], receipts[2]):
            await receipt.settled()
            assert receipt.done
        with pytest.raises(asyncio.CancelledError):
            await gone

    asyncio.run(main())
    committer.close()
    assert tries == [["user-0", "user-1", "user-2"]] * 2


def test_a_receipt_of_the_loop_is_awaited_not_blocked_on() -> None:
    """Blocking the loop's own thread on an entry that loop commits would never return: it raises."""
    import asyncio

    committer = GroupCommitter(lambda events: None, lambda events: True)

    async def main() -> None:
        receipt = committer.submit(_event(1))
        with pytest.raises(RuntimeError, match="settled"):
            receipt.wait(timeout=1)
        await receipt.settled()
        receipt.wait()  # settled: returns at once

    asyncio.run(main())
    committer.close()


def test_the_appender_thread_wakes_a_loop_once_per_batch() -> None:
    """Requests of an event loop whose entries the appender thread commits (PostgreSQL) are settled
    in their loop by one cross-thread call per batch, not one per request."""
    import asyncio

    store = SlowStore()
    committer = GroupCommitter(store.append)

    async def main() -> int:
        loop = asyncio.get_running_loop()
        calls = {"n": 0}
        original = loop.call_soon_threadsafe

        def counted(*args: object, **kwargs: object) -> object:
            calls["n"] += 1
            return original(*args, **kwargs)  # type: ignore[arg-type]

        loop.call_soon_threadsafe = counted  # type: ignore[method-assign,assignment]
        receipts = [committer.submit(_event(n)) for n in range(10)]
        store.release.set()
        for receipt in receipts:
            await receipt.settled()
            assert receipt.done
        return calls["n"]

    wake_ups = asyncio.run(main())
    committer.close()
    assert sorted(agent for batch in store.batches for agent in batch) == [f"user-{n}" for n in range(10)]
    assert wake_ups == len(store.batches) <= 2  # the first entry may go alone; the other nine wait together
