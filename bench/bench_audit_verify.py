"""Benchmark of ``ehr audit verify``: builds a log of N realistic entries (reads, searches touching
one to three patients, writes, denials; with purpose of use and roles) in a temporary SQLite
database, then times the verification — streaming every row from SQLite and recomputing the hash
chain and the checkpoints — and prints entries per second: ``SqlAuditLog.verify`` as ``ehr audit
verify`` runs it (seq ranges checked in parallel processes, one per CPU), and the sequential walk
alone (what runs when something must be explained). The target is 200,000 entries/s.

Usage: ``PYTHONPATH=. python bench/bench_audit_verify.py [--entries 500000] [--repeat 3]``
"""

from __future__ import annotations

import argparse
import random
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from ehr.audit.boundary import AuditRecord, Touched
from ehr.audit.checkpoints import Signer
from ehr.audit.events import PreparedEvent, prepare_events
from ehr.audit.log import SqlAuditLog
from ehr.audit.verify import Report, verify
from ehr.store.records import now_us
from ehr.store.sql.engine import make_engine, migrate
from ehr.store.sql.store import SqlStore

BATCH = 10_000
INTERACTIONS = ("read", "read", "read", "search-type", "create", "update", "history-instance", "read")


def sample_record(rng: random.Random) -> AuditRecord:
    interaction = rng.choice(INTERACTIONS)
    patients = [f"Patient/{rng.randrange(100_000)}" for _ in range(rng.randint(1, 3 if interaction == "search-type"
                                                                                 else 1))]
    touched = tuple(Touched(f"Observation/{rng.randrange(10**9)}", (p,), "hospital-a") for p in patients
                    for _ in range(rng.randint(1, 4)))
    status = 403 if rng.random() < 0.02 else (201 if interaction == "create" else 200)
    return AuditRecord(interaction, "hospital-a", f"user-{rng.randrange(500)}", status, "Observation",
                       touched=touched if status < 400 else (), roles=("clinician",), purpose_of_use="TREAT",
                       client="10.0.0.7", parameters=("code", "date") if interaction == "search-type" else ())


def build(log: SqlAuditLog, entries: int, seed: int = 7) -> int:
    rng = random.Random(seed)
    pending: list[PreparedEvent] = []
    size = 0
    while size + len(pending) < entries:
        pending.extend(prepare_events(sample_record(rng), now_us()))
        if len(pending) >= BATCH:
            size = _flush(log, pending)
            pending = []
    return _flush(log, pending) if pending else size


def _flush(log: SqlAuditLog, events: list[PreparedEvent]) -> int:
    with log.store.unit_of_work(write=True) as tx:
        return log.append(tx.conn, events)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--entries", type=int, default=500_000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-audit-") as folder:
        engine = make_engine(f"sqlite:///{Path(folder) / 'audit.db'}")
        migrate(engine)
        log = SqlAuditLog(SqlStore(engine), Signer.from_data_dir(Path(folder)))
        started = time.perf_counter()
        size = build(log, args.entries)
        built = time.perf_counter() - started
        print(f"built {size} entries in {built:.1f} s ({size / built:,.0f} appends/s, batches of {BATCH})")
        checkpoints = log.checkpoints()

        def walk() -> Report:
            return verify(log.chain_rows(), checkpoints, log.signer.public)

        runs: tuple[tuple[str, Callable[[], Report]], ...] = (("ehr audit verify", log.verify),
                                                              ("sequential walk ", walk))
        for run in range(1, args.repeat + 1):
            for name, check in runs:
                started, cpu = time.perf_counter(), time.process_time()
                report = check()
                elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
                assert report.intact, report.lines()[:3]
                assert report.entries == size
                print(f"run {run} {name}: {report.entries} entries, {report.checkpoints} checkpoints in "
                      f"{elapsed:.2f} s: {report.entries / elapsed:,.0f} entries/s "
                      f"(this process's CPU: {cpu:.2f} s)")
        log.close()
        engine.dispose()


if __name__ == "__main__":
    main()
