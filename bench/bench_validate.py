"""Micro-benchmark of R4B model validation (``ehr.fhir.validation.validate``), the largest single cost of
ingest; also a quick calibration of a machine's per-core speed against the figures in BENCHMARKS.md.

Usage: ``PYTHONPATH=. python bench/bench_validate.py [--bundles N] [--repeat R]`` (reads the Synthea
Bundles under ``~/.cache/ehr-synthea/*/fhir/``; prints the best of R passes in µs per resource).
"""

from __future__ import annotations

import argparse
import time

from bench.bench_extract import load_synthea
from ehr.fhir import validation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=1, help="Synthea bundles to read (default 1)")
    parser.add_argument("--repeat", type=int, default=3, help="passes; the best is reported (default 3)")
    args = parser.parse_args()
    resources = load_synthea(args.bundles)
    if not resources:
        raise SystemExit("no Synthea bundles under ~/.cache/ehr-synthea/*/fhir/")
    validation.warm_up()
    best = float("inf")
    for _ in range(args.repeat):
        started = time.perf_counter()
        for resource in resources:
            validation.validate(resource)
        best = min(best, time.perf_counter() - started)
    print(f"R4B validation: {len(resources)} resources, {best / len(resources) * 1e6:.0f} µs per resource "
          f"(best of {args.repeat})")


if __name__ == "__main__":
    main()
