"""Issue 4 benchmark: what encryption at rest and the tamper-evident audit log cost, as throughput
ratios measured in one run against the same server with both switched off.

Usage:
    python -m bench.bench_protection --engine sqlite --rounds 2 --read-seconds 10
    python -m bench.bench_protection --engine postgresql ...

Each round starts ``ehr serve --workers 2`` twice on fresh databases — once with ``--no-encryption
--no-audit``, once as shipped (encryption and audit on) — in alternating order, so that drift on a
shared machine falls on both sides. ``--sql-audit`` adds a third server per round, protected but
with the audit journal off (``EHR_AUDIT_JOURNAL=0``: each batch of read entries commits to the log
before its responses leave), to compare the two ways of making a read's entry durable. Ingest posts
the Synthea transaction Bundles over HTTP (8 clients, as bench_rest); reads are ``wrk -t2 -c16`` over
random ids of what was ingested. Prints every run, the medians per mode and the ratios
protected/unprotected.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
from pathlib import Path
from unittest import mock

from bench.bench_rest import ingest, read_load
from bench.rest_server import Server, fresh_database

MODES = {"off": ("--no-encryption", "--no-audit"), "on": (), "sql": ()}
#: environment of each mode's server
ENV = {"off": {}, "on": {"EHR_AUDIT_JOURNAL": "1"}, "sql": {"EHR_AUDIT_JOURNAL": "0"}}


def one_run(engine: str, mode: str, bundles: list[Path], clients: int, seconds: int) -> tuple[float, float]:
    """(ingested resources/s, read requests/s) of one server in ``mode``."""
    with tempfile.TemporaryDirectory() as tmp:
        with mock.patch.dict(os.environ, ENV[mode]):  # the server process inherits it
            server = Server(fresh_database(engine, Path(tmp)), Path(tmp), 2, extra=MODES[mode])
        try:
            rate, created = ingest(server.base, bundles, clients, server.headers)
            reads = read_load(server.base, created, seconds, server.headers)
        finally:
            server.stop()
    if reads["non-2xx"] not in ("0", ""):
        raise SystemExit(f"{mode}: {reads['non-2xx']} reads failed")
    return rate, float(reads["requests/s"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--bundles", type=Path, default=Path.home() / ".cache/ehr-synthea/p20-s1/fhir")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=2, help="pairs of runs (off then on, then on then off...)")
    parser.add_argument("--read-seconds", type=int, default=10)
    parser.add_argument("--sql-audit", action="store_true", help="also run protected servers without the journal")
    args = parser.parse_args()
    bundles = sorted(args.bundles.glob("*.json"))
    modes = ("off", "on", "sql") if args.sql_audit else ("off", "on")
    figures: dict[str, list[tuple[float, float]]] = {mode: [] for mode in modes}
    for round_ in range(args.rounds):
        order = modes if round_ % 2 == 0 else modes[::-1]
        for mode in order:
            rate, reads = one_run(args.engine, mode, bundles, args.clients, args.read_seconds)
            figures[mode].append((rate, reads))
            print(f"round {round_ + 1} {mode:>3}: ingest {rate:,.0f} resources/s, reads {reads:,.0f} requests/s",
                  flush=True)
    medians = {m: (statistics.median(r for r, _ in v), statistics.median(q for _, q in v)) for m, v in figures.items()}
    ingest_ratio = medians["on"][0] / medians["off"][0]
    read_ratio = medians["on"][1] / medians["off"][1]
    print(f"engine={args.engine} rounds={args.rounds} bundles={len(bundles)} workers=2 clients={args.clients}")
    for mode, (rate, reads) in medians.items():
        print(f"median {mode:>3}: ingest {rate:,.0f} resources/s, reads {reads:,.0f} requests/s")
    print(f"protected/unprotected: ingest {ingest_ratio:.3f} ({(1 - ingest_ratio) * 100:+.1f} % cost), "
          f"reads {read_ratio:.3f} ({(1 - read_ratio) * 100:+.1f} % cost); target: cost <= 15 %")
    if "sql" in medians:
        print(f"journal/no journal (both protected): ingest {medians['on'][0] / medians['sql'][0]:.3f}, "
              f"reads {medians['on'][1] / medians['sql'][1]:.3f}")


if __name__ == "__main__":
    main()
