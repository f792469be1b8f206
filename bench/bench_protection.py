"""Issue 4 benchmark: what encryption at rest and the tamper-evident audit log cost, as throughput
ratios measured in one run against the same server with both switched off.

Usage:
    python -m bench.bench_protection --engine sqlite
    python -m bench.bench_protection --engine postgresql --bursts 8 --burst-seconds 3

The servers run side by side, each ``ehr serve --workers 2`` on a fresh database: one with
``--no-encryption --no-audit``, one as shipped (encryption and audit on); ``--sql-audit`` adds one
protected but with the audit journal off (``EHR_AUDIT_JOURNAL=0``: each batch of read entries commits
to the log before its responses leave), to compare the two ways of making a read's entry durable.
Only one of them is loaded at a time, and the load alternates between them in short turns, so that the
machine's drift (a third within an hour on the 2-core machines of BENCHMARKS.md) falls on every
server alike:

- ingest: the Synthea transaction Bundles, ``--clients`` at a time over HTTP (as bench_rest), in
  chunks of ``--clients`` Bundles; each chunk goes to every server in turn, the order reversed from
  one chunk to the next;
- reads: ``wrk -t2 -c16`` over random ids of what was ingested, in ``--bursts`` bursts of
  ``--burst-seconds`` per server, the order reversed each time, after a warm-up burst each. A pause
  of :data:`PAUSE_S` before each burst lets the previous server finish what it does in the background
  (the audit journal is drained every 50 ms).

The read cost is one minus the median, over the turns, of the ratio protected/unprotected within a
turn (two bursts a few seconds apart); the range of those ratios shows how far to trust it. The ingest
cost is one minus the ratio of the resources per second over all chunks (there are few chunks, of
unequal sizes, so a median of theirs would swing); their ratios' range is printed too. Also printed:
the machine's CPU time per read (all processes and the kernel, from ``/proc/stat``).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar
from unittest import mock

from bench.bench_rest import ingest, read_load
from bench.rest_server import Server, fresh_database

MODES = {"off": ("--no-encryption", "--no-audit"), "on": (), "sql": ()}
#: environment of each mode's server
ENV = {"off": {}, "on": {"EHR_AUDIT_JOURNAL": "1"}, "sql": {"EHR_AUDIT_JOURNAL": "0"}}
#: seconds between two bursts of reads
PAUSE_S = 0.3
WARM_UP_S = 2
T = TypeVar("T")


@dataclass
class Contender:
    """One server of the run and what was measured of it."""

    mode: str
    server: Server
    workdir: tempfile.TemporaryDirectory[str]
    created: list[str] = field(default_factory=list)
    #: (resources, seconds) of each ingest chunk
    chunks: list[tuple[int, float]] = field(default_factory=list)
    #: (requests/s, machine CPU µs per request) of each burst of reads
    bursts: list[tuple[float, float]] = field(default_factory=list)

    def stop(self) -> None:
        self.server.stop()
        self.workdir.cleanup()


def start(engine: str, mode: str) -> Contender:
    workdir = tempfile.TemporaryDirectory()
    with mock.patch.dict(os.environ, ENV[mode]):  # the server process inherits it
        server = Server(fresh_database(engine, Path(workdir.name)), Path(workdir.name), 2, extra=MODES[mode])
    return Contender(mode, server, workdir)


def turns(contenders: Sequence[T], turn: int) -> Sequence[T]:
    """The order of the servers in one turn: reversed every other turn."""
    return contenders if turn % 2 == 0 else contenders[::-1]


def ingest_all(contenders: Sequence[Contender], bundles: list[Path], clients: int) -> None:
    for path in bundles:  # into the page cache: the first server to post a Bundle must not read it from disk
        path.read_bytes()
    for turn, start_at in enumerate(range(0, len(bundles), clients)):
        chunk = bundles[start_at:start_at + clients]
        for contender in turns(contenders, turn):
            began = time.perf_counter()
            _, created = ingest(contender.server.base, chunk, clients, contender.server.headers)
            contender.chunks.append((len(created), time.perf_counter() - began))
            contender.created.extend(created)


def read_bursts(contenders: Sequence[Contender], bursts: int, seconds: int) -> None:
    for contender in contenders:
        read_load(contender.server.base, contender.created, WARM_UP_S, contender.server.headers)
    for turn in range(bursts):
        for contender in turns(contenders, turn):
            time.sleep(PAUSE_S)
            before = machine_busy_s()
            figures = read_load(contender.server.base, contender.created, seconds, contender.server.headers)
            busy = machine_busy_s() - before
            if figures["non-2xx"] not in ("0", ""):
                raise SystemExit(f"{contender.mode}: {figures['non-2xx']} reads failed")
            rate = float(figures["requests/s"])
            contender.bursts.append((rate, busy / (rate * seconds) * 1e6))


def machine_busy_s() -> float:
    """Seconds of CPU time the whole machine has spent busy (not idle, not waiting for I/O) since boot."""
    with open("/proc/stat") as handle:
        ticks = [int(value) for value in handle.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def paired_ratios(protected: Sequence[float], unprotected: Sequence[float]) -> list[float]:
    """protected/unprotected of each turn, sorted."""
    return sorted(p / u for p, u in zip(protected, unprotected, strict=True))


def ingest_rate(chunks: Sequence[tuple[int, float]]) -> float:
    return sum(n for n, _ in chunks) / sum(s for _, s in chunks)


def report(contenders: Sequence[Contender], engine: str, bundles: int, clients: int, seconds: int) -> None:
    by_mode = {c.mode: c for c in contenders}
    off = by_mode["off"]
    print(f"engine={engine} bundles={bundles} workers=2 clients={clients} bursts={len(off.bursts)}x{seconds}s")
    for c in contenders:
        rates = [rate for rate, _ in c.bursts]
        print(f"{c.mode:>3}: ingest {ingest_rate(c.chunks):,.0f} resources/s; reads median "
              f"{statistics.median(rates):,.0f} requests/s ({min(rates):,.0f}-{max(rates):,.0f}), "
              f"machine CPU {statistics.median(us for _, us in c.bursts):,.0f} µs a read")
    for c in contenders:
        if c is off:
            continue
        target = "; target: cost <= 15 %" if c.mode == "on" else ""
        chunks = paired_ratios([n / s for n, s in c.chunks], [n / s for n, s in off.chunks])
        ratio = ingest_rate(c.chunks) / ingest_rate(off.chunks)
        print(f"{c.mode}/off ingest: {ratio:.3f} ({(1 - ratio) * 100:+.1f} % cost; chunks "
              f"{chunks[0]:.3f}-{chunks[-1]:.3f}){target}")
        reads = paired_ratios([r for r, _ in c.bursts], [r for r, _ in off.bursts])
        ratio = statistics.median(reads)
        print(f"{c.mode}/off reads: {ratio:.3f} ({(1 - ratio) * 100:+.1f} % cost; turns "
              f"{reads[0]:.3f}-{reads[-1]:.3f}){target}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--bundles", type=Path, default=Path.home() / ".cache/ehr-synthea/p20-s1/fhir")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--bursts", type=int, default=8, help="turns of reads (a burst per server each)")
    parser.add_argument("--burst-seconds", type=int, default=3)
    parser.add_argument("--sql-audit", action="store_true", help="also run a protected server without the journal")
    args = parser.parse_args()
    bundles = sorted(args.bundles.glob("*.json"))
    contenders: list[Contender] = []
    try:
        for mode in ("off", "on", "sql") if args.sql_audit else ("off", "on"):
            contenders.append(start(args.engine, mode))
        ingest_all(contenders, bundles, args.clients)
        read_bursts(contenders, args.bursts, args.burst_seconds)
    finally:
        for contender in contenders:
            contender.stop()
    report(contenders, args.engine, len(bundles), args.clients, args.burst_seconds)


if __name__ == "__main__":
    main()
