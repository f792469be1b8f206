"""Where one audit entry's cost goes, in process (issues 2 and 4: the durable audit entry of every read):
building the AuditEvent and its canonical JSON (``prepare_events``), the hash chain (``link``), and the
append of a batch in one transaction on the group-commit appender's own connection (``RawAppender``,
the path a read's entry takes), in batches of 1, 8 and 32 entries, on SQLite and PostgreSQL. Prints µs per
entry of wall time and of this process's CPU (on PostgreSQL the database server's own work is extra).

Also the entry of one transaction that touches ``--transaction`` resources of one patient (a Synthea
patient's Bundle: 4,277–6,154 entries for the five largest of ``-p 20 -s 1``), built once per repeat.

Usage: ``PYTHONPATH=. python bench/bench_audit_append.py [--engine sqlite|postgresql] [--entries 4000]
[--transaction 2800]``
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from bench.rest_server import fresh_database
from ehr.api.app import open_audit_log, open_store
from ehr.audit.boundary import AuditRecord, Touched
from ehr.audit.checkpoints import Checkpoint
from ehr.audit.events import PreparedEvent, prepare_events
from ehr.audit.log import link
from ehr.settings import Settings


def read_record(n: int) -> AuditRecord:
    """A read of one Observation of one patient by a clinician, as the REST layer records it."""
    return AuditRecord("read", "default", "user-x", 200, resource_type="Observation", id=f"o{n}",
                       touched=(Touched(f"Observation/o{n}", ("Patient/p1",), "default"),), roles=("clinician",),
                       client="127.0.0.1")


def transaction_entry(size: int, repeat: int = 5) -> None:
    """The audit entry of one transaction touching ``size`` Observations of one patient (best of
    ``repeat``)."""
    record = AuditRecord("transaction", "default", "user-x", 200, touched=tuple(
        Touched(f"Observation/o{i}", ("Patient/p1",), "default") for i in range(size)))
    best = min(_cpu(lambda: prepare_events(record, 1_700_000_000_000_000)) for _ in range(repeat))
    size_bytes = len(prepare_events(record, 0)[0].event)
    print(f"transaction of {size} resources of one patient: its audit entry ({size_bytes:,} bytes) built in "
          f"{best * 1e3:.1f} ms of CPU (best of {repeat})")


def _cpu(fn: Callable[[], object]) -> float:
    started = time.process_time()
    fn()
    return time.process_time() - started


def timed(label: str, entries: int, fn: Callable[[], object]) -> None:
    wall, cpu = time.perf_counter(), time.process_time()
    fn()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    print(f"  {label:<28} {wall / entries * 1e6:7.1f} µs/entry wall {cpu / entries * 1e6:7.1f} µs/entry CPU")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--entries", type=int, default=4000)
    parser.add_argument("--transaction", type=int, default=2800)
    args = parser.parse_args()
    n = args.entries
    transaction_entry(args.transaction)
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(db_url=fresh_database(args.engine, Path(tmp)), data_dir=Path(tmp))
        store = open_store(settings)
        log = open_audit_log(store, settings)
        appender = log._raw  # the group-commit appender's own connection, as reads use it

        def sign(size: int, chain: bytes) -> Checkpoint:
            return log.signer.sign(size, chain, 0)

        print(f"engine={args.engine}, {n} read entries")
        events: list[PreparedEvent] = []
        start = 1_700_000_000_000_000
        timed("prepare_events", n,
              lambda: events.extend(e for i in range(n) for e in prepare_events(read_record(i), start + i)))
        timed("link (hash chain)", n, lambda: link(0, b"\0" * 32, [e.event for e in events]))
        try:
            for batch in (1, 8, 32):
                def append_all(b: int = batch) -> None:
                    for i in range(0, n, b):
                        appender.append(events[i:i + b], link, sign)

                timed(f"append, batches of {batch}", n, append_all)
        finally:
            appender.close()
            log.close()
            store.close()


if __name__ == "__main__":
    main()
