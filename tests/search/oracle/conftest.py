"""One loaded server per engine (SQLite, PostgreSQL, and the in-memory store behind the same HTTP app) for the
whole oracle module: the generated population written over HTTP (a transaction, then updates and deletions),
and the oracle built from the same resources."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from ehr.api.app import build_services
from ehr.crypto.blind import BlindIndexKey
from ehr.search.registry import Registry
from ehr.settings import Settings
from ehr.store.memory import MemoryStore
from tests.conftest import ENGINES, LiveServer, database_url
from tests.search.oracle.engine import Oracle
from tests.search.oracle.population import Population, build

SEED = 20261130


@dataclass
class Loaded:
    http: httpx.Client
    oracle: Oracle


def _transaction(resources: list[dict[str, Any]]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]}


def load(http: httpx.Client, population: Population) -> list[dict[str, Any]]:
    """Write the population; return the resources as now current (the written JSON with the server's meta)."""
    for batch in (population.first, population.updates):
        response = http.post("", json=_transaction(batch))
        assert response.status_code == 200, response.text
    for rtype, rid in population.deletes:
        assert http.delete(f"{rtype}/{rid}").status_code in (200, 204)
    final = {(r["resourceType"], r["id"]): r for r in [*population.first, *population.updates]}
    for key in population.deletes:
        final.pop(key)
    stored: dict[tuple[str, str], dict[str, Any]] = {}
    for rtype in sorted({t for t, _ in final}):
        bundle = http.get(rtype, params={"_count": "1000"}).json()
        stored.update(((rtype, e["resource"]["id"]), e["resource"]["meta"]) for e in bundle.get("entry", []))
    assert stored.keys() == final.keys()
    return [{**r, "meta": {**r.get("meta", {}), **stored[key]}} for key, r in final.items()]


@pytest.fixture(scope="module", params=[*ENGINES, "memory"])
def loaded(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           pg_available: bool) -> Iterator[Loaded]:
    tmp: Path = tmp_path_factory.mktemp("oracle")
    memory = request.param == "memory"
    url = None if memory else database_url(str(request.param), tmp, pg_available)
    # no golden records
    settings = Settings(auth="dev", db_url=url, data_dir=tmp, max_body_bytes=8 * 1024 * 1024, mpi=False)
    # the in-memory store, with blind indexes as the SQL engines have them (encryption is on by default)
    services = build_services(MemoryStore(), blind_key=BlindIndexKey(bytes(range(32)))) if memory else None
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    with (LiveServer(settings, services=services) as live,
          httpx.Client(base_url=live.base, headers=headers, timeout=60) as http):
        resources = load(http, build(SEED))
        yield Loaded(http, Oracle(resources, Registry.load(), live.base))
