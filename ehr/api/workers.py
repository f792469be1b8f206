"""Several worker processes for ``ehr serve --workers N``.

Each worker binds its own listening socket with ``SO_REUSEPORT``, so the kernel spreads new
connections over the workers evenly. (With one shared socket, a worker busy with a large transaction
keeps accepting connections on its free event loop and ends up with most of them, while the others
idle.) The parent only starts, watches and stops the workers.
"""

from __future__ import annotations

import multiprocessing
import signal
import socket
from types import FrameType

import uvicorn


def serve_workers(app: str, host: str, port: int, workers: int) -> None:
    """Run ``workers`` processes serving the ASGI ``app`` (an import string) on ``host:port``."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_worker, args=(app, host, port), daemon=False) for _ in range(workers)]
    for process in processes:
        process.start()

    def stop(_signum: int, _frame: FrameType | None) -> None:
        for process in processes:
            if process.is_alive():
                process.terminate()

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    for process in processes:
        process.join()


def _worker(app: str, host: str, port: int) -> None:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])
