"""A helper process that makes an event loop's audit journal writes durable, so that the loop never
blocks on ``fdatasync`` and never shares its interpreter lock with a thread that would.

Why: an event loop that syncs its own batches stops serving for every sync (0.2–0.7 ms here, several
hundred times a second); a thread that syncs them must win the interpreter lock back from the busy
loop after every sync, and costs the loop 17 % of its reads in lock hand-overs (BENCHMARKS.md). A
process of its own does neither: the loop writes each batch into the page cache (``pwrite``), sends
one byte, and goes on serving; the helper ``fdatasync``s the file and answers one byte, which the loop
reads when it next polls (``add_reader``). One sync is in flight at a time; what is written meanwhile
waits for the next one, so a sync carries every batch written since the previous one (group commit).

Protocol over a Unix socket pair: ``f`` with a file descriptor attached (``SCM_RIGHTS``) switches to
that file; ``s`` asks for a sync, answered ``0`` (durable) or ``1`` (the sync failed: nothing since
the previous answer is durable). The helper exits when the socket closes, so it never outlives its
process. It imports nothing but the standard library.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
from collections.abc import Callable

_OK, _FAILED = b"0", b"1"


class Syncer:
    """One event loop's helper process, started on first use."""

    def __init__(self, loop: asyncio.AbstractEventLoop, answered: Callable[[bool], None],
                 lost: Callable[[], None]) -> None:
        """``answered(ok)`` is called in ``loop`` for each answer, in the order of the requests;
        ``lost()`` when the helper went away (every unanswered request failed)."""
        self._loop = loop
        self._answered = answered
        self._lost = lost
        self._socket: socket.socket | None = None
        self._process: subprocess.Popen[bytes] | None = None
        self._file = ""

    def sync(self, fd: int, file: str) -> None:
        """Ask for a sync of the file ``file``, open as ``fd``; the answer comes through ``answered``."""
        if self._socket is None:
            self._start()
        assert self._socket is not None
        try:
            if file != self._file:
                socket.send_fds(self._socket, [b"f"], [fd])
                self._file = file
            self._socket.send(b"s")
        except OSError:
            self._stop()  # the helper is gone: the next sync starts another
            raise

    def close(self) -> None:
        if self._socket is not None:
            self._stop()

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        with theirs:
            self._process = subprocess.Popen(  # noqa: S603 (this interpreter and a constant program)
                [sys.executable, "-I", "-S", "-c", _HELPER, str(theirs.fileno())], pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, close_fds=True)
        ours.setblocking(False)
        self._socket = ours
        self._file = ""
        self._loop.add_reader(ours.fileno(), self._read)

    def _read(self) -> None:
        assert self._socket is not None
        try:
            answers = self._socket.recv(4096)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            answers = b""
        if not answers:
            self._stop()
            self._lost()
            return
        for answer in answers:
            self._answered(answer == _OK[0])

    def _stop(self) -> None:
        assert self._socket is not None
        self._loop.remove_reader(self._socket.fileno())
        self._socket.close()
        self._socket = None
        if self._process is not None:
            self._process.wait(timeout=10)  # it exits as soon as it sees the socket closed
            self._process = None


#: the helper, run as ``python -I -S -c _HELPER <socket fd>``: standard library only, no site packages
_HELPER = """
import os, signal, socket, sys
signal.signal(signal.SIGTERM, signal.SIG_IGN)  # a signal to the process group: its loop stops first
signal.signal(signal.SIGINT, signal.SIG_IGN)
channel = socket.socket(fileno=int(sys.argv[1]))
target = -1
while True:
    message, fds, _, _ = socket.recv_fds(channel, 4096, 1)
    if not message:
        break
    for fd in fds:
        if target >= 0:
            os.close(target)
        target = fd
    requests = message.count(b"s")
    if requests:
        try:
            os.fdatasync(target)
            answer = b"0"
        except OSError:
            answer = b"1"
        channel.sendall(answer * requests)
"""
