"""Issue 4 benchmark: what encryption at rest and the tamper-evident audit log cost, as throughput
ratios measured in one run against the same server with both switched off.

Usage:
    python -m bench.bench_protection --engine sqlite --rounds 2 --read-seconds 10
    python -m bench.bench_protection --engine postgresql ...

Each round starts ``ehr serve --workers 2`` twice on fresh databases — once with ``--no-encryption
--no-audit``, once as shipped (encryption and audit on) — in alternating order, so that drift on a
shared machine falls on both sides. Ingest posts the Synthea transaction Bundles over HTTP (8 clients,
as bench_rest); reads are ``wrk -t2 -c16`` over random ids of what was ingested. Prints every run, the
medians per mode and the ratios protected/unprotected.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from bench.bench_rest import ingest, read_load
from bench.rest_server import Server, fresh_database

MODES = {"off": ("--no-encryption", "--no-audit"), "on": ()}


def one_run(engine: str, mode: str, bundles: list[Path], clients: int, seconds: int) -> tuple[float, float]:
    """(ingested resources/s, read requests/s) of one server in ``mode``."""
    with tempfile.TemporaryDirectory() as tmp:
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
    args = parser.parse_args()
    bundles = sorted(args.bundles.glob("*.json"))
    figures: dict[str, list[tuple[float, float]]] = {"off": [], "on": []}
    for round_ in range(args.rounds):
        order = ("off", "on") if round_ % 2 == 0 else ("on", "off")
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


if __name__ == "__main__":
    main()
