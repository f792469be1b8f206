"""Micro-benchmark of index-row extraction (``ehr.search.extract.extract_index_rows``).

Prints resources per second and mean microseconds per resource over the official R4 examples
(``tests/golden/r4-examples.ndjson.gz``) and, when present, over Synthea transaction bundles in
``~/.cache/ehr-synthea/*/fhir/*.json`` (read only), overall and for Observations alone.

Usage: ``PYTHONPATH=. python bench/bench_extract.py [--bundles N] [--repeat R]``
"""

from __future__ import annotations

import argparse
import gzip
import time
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import orjson

from ehr.search.extract import extract_index_rows
from ehr.search.paths import compile_all
from ehr.search.registry import Registry
from ehr.search.values import dates, quantities

REPO = Path(__file__).resolve().parent.parent
EXAMPLES = REPO / "tests" / "golden" / "r4-examples.ndjson.gz"
SYNTHEA = Path.home() / ".cache" / "ehr-synthea"


def load_examples() -> list[dict[str, Any]]:
    with gzip.open(EXAMPLES, "rb") as handle:
        return [orjson.loads(line) for line in handle if line.strip()]


def load_synthea(limit: int) -> list[dict[str, Any]]:
    """Resources of up to ``limit`` complete Synthea bundles (files still being written are skipped)."""
    resources: list[dict[str, Any]] = []
    for path in sorted(SYNTHEA.glob("*/fhir/*.json"))[:limit]:
        try:
            bundle = orjson.loads(path.read_bytes())
        except orjson.JSONDecodeError:
            continue
        resources.extend(e["resource"] for e in bundle.get("entry", []) if "resource" in e)
    return resources


def clear_caches() -> None:
    """Forget cached date ranges, numbers and unit conversions, so that every pass starts cold."""
    dates.date_range.cache_clear()
    quantities._number.cache_clear()
    quantities._convert.cache_clear()


def one_pass(resources: list[dict[str, Any]], registry: Registry) -> tuple[dict[str, list[float]], int, float]:
    """Wall time per resource by type, total rows, and the pass's CPU time (steadier on a busy host)."""
    clear_caches()
    by_type: dict[str, list[float]] = defaultdict(list)
    rows = 0
    cpu_start = time.process_time()
    for resource in resources:
        start = time.perf_counter()
        found = extract_index_rows(resource, registry)
        by_type[resource["resourceType"]].append(time.perf_counter() - start)
        rows += sum(len(getattr(found, f)) for f in found.__slots__)
    return by_type, rows, time.process_time() - cpu_start


def measure(label: str, resources: list[dict[str, Any]], registry: Registry, repeat: int) -> None:
    """Print the best of ``repeat`` cold passes: throughput overall and for the most common types."""
    passes = [one_pass(resources, registry) for _ in range(repeat)]
    by_type, rows, _ = min(passes, key=lambda p: sum(sum(times) for times in p[0].values()))
    total = sum(sum(times) for times in by_type.values())
    cpu = min(p[2] for p in passes)
    count = len(resources)
    print(f"{label}: {count} resources, {count / total:,.0f} resources/s, "
          f"{total / count * 1e6:.1f} us/resource wall, {cpu / count * 1e6:.1f} us/resource CPU, "
          f"{rows / count:.1f} rows/resource (best of {repeat} cold passes)")  # fmt: skip
    common = sorted(by_type.items(), key=lambda item: -len(item[1]))[:6]
    for resource_type, times in _with_observation(common, by_type):
        print(f"  {resource_type:<24} n={len(times):>7}  mean {sum(times) / len(times) * 1e6:7.1f} us")


def _with_observation(
    common: list[tuple[str, list[float]]], by_type: dict[str, list[float]]
) -> Iterable[tuple[str, list[float]]]:
    names = {name for name, _ in common}
    extra = [("Observation", by_type["Observation"])] if "Observation" in by_type else []
    return common + [item for item in extra if item[0] not in names]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bundles", type=int, default=10, help="Synthea bundles to read (default 10)")
    parser.add_argument("--repeat", type=int, default=3, help="cold passes over each corpus (default 3)")
    args = parser.parse_args()
    start = time.perf_counter()
    registry = Registry.load()
    compile_all(registry)
    print(f"registry load + compile of all types: {(time.perf_counter() - start) * 1e3:.0f} ms")
    measure("official examples", load_examples(), registry, args.repeat)
    synthea = load_synthea(args.bundles)
    if synthea:
        measure("synthea", synthea, registry, args.repeat)
    else:
        print(f"synthea: no bundles under {SYNTHEA}")


if __name__ == "__main__":
    main()
