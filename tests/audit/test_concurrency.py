"""Concurrent appends never fork the chain: ``ehr serve --workers 2`` (two processes, each with its
group-commit appender and its request threads) takes many concurrent HTTP clients mixing writes,
reads, searches and failures, on both engines, with the audit journal and without; afterwards the log
verifies, holds exactly one entry per expected event, and its seqs have no gap."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from ehr.audit.verify import verify
from tests.conftest import _free_port

from .support import opened_log

CLIENTS = 12
ROUNDS = 3
#: per round: create Patient, create Observation, 2 reads, 1 search (one patient), 1 failed read
EVENTS_PER_ROUND = 6
REPO = Path(__file__).resolve().parent.parent.parent


@pytest.fixture(params=["journal", "no-journal"])
def workers(db_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[str]:
    """The server with the audit journal (as shipped) and without (``EHR_AUDIT_JOURNAL=0``: each batch
    of read entries commits to the log before its responses leave)."""
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "EHR_AUDIT_JOURNAL": "1" if request.param == "journal" else "0"}
    command = [sys.executable, "-m", "ehr.cli.main", "serve", "--dev", "--workers", "2", "--no-inference", "--port",
               str(port), "--db", db_url, "--data-dir", str(tmp_path)]
    errors = tmp_path / "serve.err"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr)
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        _wait_ready(base, process, errors)
        yield base
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)


def _wait_ready(base: str, process: subprocess.Popen[bytes], errors: Path) -> None:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"ehr serve exited: {errors.read_text()}")
        try:
            if httpx.get(f"{base}/metadata", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise RuntimeError("ehr serve --workers 2 did not start")


def _client_rounds(base: str, n: int, start: threading.Barrier) -> None:
    headers = {"Content-Type": "application/fhir+json", "X-User": f"user-{n}"}
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        start.wait()
        for _ in range(ROUNDS):
            pid = http.post("/Patient", json={"resourceType": "Patient"}).json()["id"]
            observation = {"resourceType": "Observation", "status": "final", "code": {"text": "t"},
                           "subject": {"reference": f"Patient/{pid}"}}
            assert http.post("/Observation", json=observation).status_code == 201
            assert http.get(f"/Patient/{pid}").status_code == 200
            assert http.get(f"/Patient/{pid}").status_code == 200
            assert http.get("/Observation", params={"subject": f"Patient/{pid}"}).status_code == 200
            assert http.get("/Observation/does-not-exist").status_code == 404


def test_two_workers_and_many_clients_keep_one_chain(workers: str, db_url: str, tmp_path: Path) -> None:
    start = threading.Barrier(CLIENTS)
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        for future in [pool.submit(_client_rounds, workers, n, start) for n in range(CLIENTS)]:
            future.result()
    with opened_log(db_url, tmp_path) as log:
        report = verify(log.chain_rows(), log.checkpoints(), log.signer.public)
        rows = list(log.rows())
    assert report.intact, report.lines()
    per_user = {f"user-{n}": 0 for n in range(CLIENTS)}
    for row in rows:
        if row.agent in per_user:
            per_user[row.agent] += 1
    assert per_user == {user: ROUNDS * EVENTS_PER_ROUND for user in per_user}
    assert [row.seq for row in rows] == list(range(1, len(rows) + 1))
