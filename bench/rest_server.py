"""Start and stop ``ehr serve`` as a separate process for the benchmarks (never used by tests)."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

from ehr.auth.signing import SigningKeys
from ehr.store.sql.engine import drop_schema, new_schema

PG_URL = os.environ.get("EHR_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def fresh_database(engine: str, workdir: Path) -> str:
    """The URL of an empty database: a new SQLite file or a new PostgreSQL schema, dropped when the
    benchmark exits (left behind, a run's schemas grow the shared server and its autovacuum work,
    which disturbs the next runs' figures)."""
    if engine == "sqlite":
        return f"sqlite:///{workdir / 'bench.db'}"
    url = new_schema(PG_URL, "bench")
    atexit.register(drop_schema, PG_URL, url)
    return url


class Server:
    """``ehr serve`` on a free port. ``auth="smart"`` (as shipped): every request carries a SMART token
    minted from the server's own development keys (:attr:`headers`), validated as any client's would be;
    ``"dev"``: ``--dev``, no token (for benchmarks of one part alone)."""

    def __init__(self, db_url: str, workdir: Path, workers: int, inference: bool = False,
                 extra: Sequence[str] = (), auth: str = "smart") -> None:
        self.port = _free_port()
        self.base = f"http://127.0.0.1:{self.port}/fhir"
        self.headers: dict[str, str] = {}
        if auth == "smart":
            keys = SigningKeys.load_or_create(workdir / "keys")  # the server loads the same key file
            token = keys.mint({"iss": f"http://127.0.0.1:{self.port}/auth", "aud": self.base, "sub": "bench",
                               "client_id": "bench", "tenant": "default", "scope": "user/*.cruds"},
                              lifetime_s=6 * 3600)
            self.headers = {"Authorization": f"Bearer {token}"}
        command = [sys.executable, "-m", "ehr.cli.main", "serve", "--port", str(self.port), "--db", db_url,
                   "--data-dir", str(workdir), "--workers", str(workers), "--max-body", str(256 << 20),
                   "--inference" if inference else "--no-inference", *(["--dev"] if auth == "dev" else []),
                   *extra]
        self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.base}/metadata", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.3)
        self.stop()
        raise RuntimeError("ehr serve did not start")

    def stop(self) -> None:
        os.killpg(self.process.pid, signal.SIGTERM)
        self.process.wait(timeout=30)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
