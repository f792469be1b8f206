"""Differential test of the in-memory engine (``ehr.search.memory``, the twin of the SQL engines): every
generated search over the same population returns what the oracle computes from the raw resources."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from ehr.fhir.interactions.context import Context, Services
from ehr.fhir.interactions.search import search
from ehr.search.registry import Registry
from tests.search.memory_engine import load_memory
from tests.search.oracle.conftest import SEED
from tests.search.oracle.engine import Oracle, disagreement
from tests.search.oracle.population import build
from tests.search.oracle.queries import FAMILIES, Query, deviation, generated

Memory = tuple[Services, Context, Oracle]


def _puts(resources: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}} for r in resources]


def _bundle(services: Services, ctx: Context, query: Query) -> dict[str, Any]:
    rtype, pairs = query
    with services.store.unit_of_work(write=False) as tx:
        body = search(ctx, services, tx, rtype, (*pairs, ("_count", "1000"))).body
    found: dict[str, Any] = orjson.loads(orjson.dumps(body))
    return found


@pytest.fixture(scope="module")
def memory() -> Memory:
    """The population written as the HTTP tests write it (first versions, updates, deletions), and the oracle
    over the resources as the store now holds them."""
    population = build(SEED)
    deletes = [{"request": {"method": "DELETE", "url": f"{t}/{i}"}} for t, i in population.deletes]
    services, ctx = load_memory(_puts(population.first), _puts(population.updates), deletes)
    types = sorted({r["resourceType"] for r in population.first})
    current = [e["resource"] for t in types for e in _bundle(services, ctx, (t, ())).get("entry", [])]
    return services, ctx, Oracle(current, Registry.load(), ctx.base_url)


@pytest.mark.parametrize("family", FAMILIES)
def test_the_in_memory_engine_agrees_with_the_oracle(memory: Memory, family: str) -> None:
    services, ctx, oracle = memory
    queries = generated(oracle, SEED)[family]
    assert len(queries) >= 10, family
    problems = []
    for query in queries:
        if deviation(query) is not None:
            continue
        found = [f"{e['resource']['resourceType']}/{e['resource']['id']}"
                 for e in _bundle(services, ctx, query).get("entry", []) if e["search"]["mode"] == "match"]
        problem = disagreement(query, oracle.search(*query), found)
        if problem:
            problems.append(problem)
    assert not problems, f"{len(problems)} of {len(queries)} {family} searches disagree:\n" + "\n".join(problems[:40])
