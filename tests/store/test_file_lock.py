"""The SQLite writers' kernel lock (``ehr.store.sql.store.file_lock``): one holder at a time among
threads and processes, a forked child of the holder included."""

from __future__ import annotations

import multiprocessing
import os
import threading
from pathlib import Path
from typing import Any

import pytest

from ehr.store.sql.store import file_lock


def _try_elsewhere(path: Path) -> bool:
    """Whether another thread gets the lock without waiting."""
    got: list[bool] = []

    def attempt() -> None:
        try:
            with file_lock(path, wait=False):
                got.append(True)
        except BlockingIOError:
            got.append(False)

    thread = threading.Thread(target=attempt)
    thread.start()
    thread.join(timeout=10)
    return got == [True]


def test_one_thread_at_a_time(tmp_path: Path) -> None:
    path = tmp_path / "db.writer-lock"
    with file_lock(path):
        assert not _try_elsewhere(path)
    assert _try_elsewhere(path)
    assert _try_elsewhere(path)  # the other thread released it, and again


def test_a_waiting_thread_gets_it_when_the_holder_lets_go(tmp_path: Path) -> None:
    path = tmp_path / "db.writer-lock"
    order: list[str] = []
    taken = threading.Event()

    def waiter() -> None:
        taken.wait(10)
        with file_lock(path):
            order.append("waiter")

    thread = threading.Thread(target=waiter)
    thread.start()
    with file_lock(path):
        taken.set()
        thread.join(timeout=0.3)  # it waits on the lock meanwhile
        order.append("holder")
    thread.join(timeout=10)
    assert order == ["holder", "waiter"]


def test_trying_it_again_in_the_same_thread_never_frees_the_holder(tmp_path: Path) -> None:
    path = tmp_path / "db.writer-lock"
    with file_lock(path):
        with pytest.raises(BlockingIOError), file_lock(path, wait=False):
            pass
        assert not _try_elsewhere(path)  # still held
    assert _try_elsewhere(path)


def _child_tries(path: str, result: Any) -> None:
    try:
        with file_lock(Path(path), wait=False):
            result.put(True)
    except BlockingIOError:
        result.put(False)


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="needs fork")
@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_another_process_waits_even_a_forked_child_of_the_holder(tmp_path: Path, method: str) -> None:
    path = tmp_path / "db.writer-lock"
    context: Any = multiprocessing.get_context(method)
    result = context.Queue()
    with file_lock(path):  # a forked child inherits this open file: it must not count as holding it
        child = context.Process(target=_child_tries, args=(str(path), result))
        child.start()
        assert result.get(timeout=60) is False
        child.join(timeout=60)
    child = context.Process(target=_child_tries, args=(str(path), result))
    child.start()
    assert result.get(timeout=60) is True
    child.join(timeout=60)
    assert os.path.exists(path)
