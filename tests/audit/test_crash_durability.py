"""Nothing acknowledged is lost: ``ehr serve --workers 2`` answers reads (whose audit entries wait in
the journals, ``ehr.audit.journal``: the drain is set far off), then every process of the server is
killed at once (SIGKILL, no shutdown). The next process that opens the log drains the journals the
dead workers left: every read that was answered is in the log exactly once, and the log verifies."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx

from ehr.audit.journal import decode
from tests.audit.test_concurrency import REPO, _wait_ready
from tests.conftest import _free_port

from .support import opened_log

READS = 40


def test_answered_reads_survive_a_kill_of_the_whole_server(db_url: str, tmp_path: Path) -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONPATH": str(REPO), "EHR_AUDIT_DRAIN_MS": "600000"}  # no drain before the kill
    command = [sys.executable, "-m", "ehr.cli.main", "serve", "--dev", "--workers", "2", "--no-inference", "--port",
               str(port), "--db", db_url, "--data-dir", str(tmp_path)]
    errors = tmp_path / "serve.err"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=stderr,
                                   start_new_session=True)
    base = f"http://127.0.0.1:{port}/fhir"
    try:
        _wait_ready(base, process, errors)
        with httpx.Client(base_url=base, timeout=60) as http:
            pid = http.post("/Patient", json={"resourceType": "Patient"},
                            headers={"Content-Type": "application/fhir+json"}).json()["id"]
            answered = [n for n in range(READS)
                        if http.get(f"/Patient/{pid}", headers={"X-User": f"reader-{n}"}).status_code == 200]
        journals = list((tmp_path / "audit-journal").glob("*.jnl"))
        waiting = [event.agent for path in journals for event, _ in decode(path.read_bytes())]
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)
    assert answered == list(range(READS))
    assert sorted(waiting) == sorted(f"reader-{n}" for n in range(READS))  # none drained before the kill
    with opened_log(db_url, tmp_path) as log:
        readers = [row.agent for row in log.rows() if row.agent.startswith("reader-")]
        report = log.verify()
    assert sorted(readers) == sorted(f"reader-{n}" for n in range(READS))
    assert report.intact, report.lines()
    assert list((tmp_path / "audit-journal").glob("*.jnl")) == []
