"""End-to-end latency of ``Patient/[id]/$ai-suggest`` from stored FHIR data, over HTTP.

Usage: python -m bench.bench_ai_suggest [--engine sqlite|postgresql] [--bundles DIR] [--requests 200]

Loads Synthea patients (``synthea -p N -s SEED -o DIR``, cached outside the repo), admits each one today
(current vital signs and an acute MI, as ``ehr demo`` does), then times sequential ``$ai-suggest`` calls:
the store fetch of the patient's Observations and Conditions, feature extraction, the three tabular
models and the FHIR output. Prints p50/p95 and the record sizes.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import httpx
import orjson

from bench.rest_server import Server, fresh_database
from ehr.cli.demo_admission import admission_bundle

HEADERS = {"Content-Type": "application/fhir+json"}
MRN = "http://bench.example.org/mrn"


def load(base: str, bundles: list[Path]) -> list[tuple[str, int]]:
    """Post each patient's Bundle plus today's admission; (patient id, resources) per patient."""
    out = []
    with httpx.Client(base_url=base, timeout=600, headers=HEADERS) as http:
        for number, path in enumerate(bundles):
            bundle = orjson.loads(path.read_bytes())
            for entry in bundle["entry"]:
                if entry["resource"]["resourceType"] == "Patient":
                    entry["resource"]["identifier"] = [{"system": MRN, "value": str(number)}]
            http.post("", content=orjson.dumps(bundle)).raise_for_status()
            admission = admission_bundle(MRN, str(number), datetime.now(UTC), acute_mi=True)
            http.post("", content=orjson.dumps(admission)).raise_for_status()
            found = http.get("/Patient", params={"identifier": f"{MRN}|{number}"}).json()
            out.append((found["entry"][0]["resource"]["id"], len(bundle["entry"]) + len(admission["entry"])))
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--bundles", type=Path, default=Path.home() / ".cache/ehr-synthea/p20-s1/fhir")
    parser.add_argument("--patients", type=int, default=5)
    parser.add_argument("--requests", type=int, default=200)
    args = parser.parse_args()
    bundles = sorted(args.bundles.glob("*.json"))[: args.patients]
    with tempfile.TemporaryDirectory() as tmp:
        server = Server(fresh_database(args.engine, Path(tmp)), Path(tmp), workers=1, inference=True,
                        auth="dev")  # inference alone: --dev, no token
        try:
            patients = load(server.base, bundles)
            timings: list[float] = []
            computed = 0
            with httpx.Client(base_url=server.base, timeout=60) as http:
                for i in range(args.requests):
                    pid, _ = patients[i % len(patients)]
                    started = time.perf_counter()
                    answer = http.get(f"/Patient/{pid}/$ai-suggest")
                    timings.append((time.perf_counter() - started) * 1000)
                    answer.raise_for_status()
                    computed += sum(e["resource"]["resourceType"] == "RiskAssessment" for e in answer.json()["entry"])
        finally:
            server.stop()
    sizes = [n for _, n in patients]
    cuts = statistics.quantiles(timings, n=20)
    print(f"engine={args.engine} patients={len(patients)} record sizes {min(sizes)}..{max(sizes)} resources")
    print(f"$ai-suggest over HTTP: p50 {statistics.median(timings):.1f} ms, p95 {cuts[18]:.1f} ms "
          f"({args.requests} sequential requests, {computed / args.requests:.1f} RiskAssessments each)")


if __name__ == "__main__":
    main()
