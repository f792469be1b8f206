"""The plans a store picks by the size of what it finds (``ehr.search.sql.plan``, ``chain_lead``) give the
same answers as each other and as the oracle: every chain and ``_has`` of the oracle suite, over HTTP on
each engine, with ``_has`` forced to a per-candidate probe and chains read target by target or not at
all, each walked in pages of 3 so that every page boundary of a merged chain page is crossed."""

from __future__ import annotations

import pytest
from sqlalchemy.dialects import postgresql

from ehr.search import sql
from ehr.search.query_parse import ParseOptions, parse_search
from ehr.search.registry import Registry
from tests.search.oracle.conftest import Loaded
from tests.search.oracle.queries import CHAINS, Query
from tests.search.oracle.test_oracle_http import _get, _walk

PLANS = {
    "probe-every-has": {"PROBE_ABOVE": -1},
    "collect-every-has": {"PROBE_ABOVE": 10**9},
    "no-merged-chain": {"MERGE_TARGETS": -1},
    "merged-chain-of-one-target": {"MERGE_TARGETS": 1},
    "merged-chain-of-many-targets": {"MERGE_TARGETS": 10**6},
}


@pytest.mark.parametrize("plan", PLANS)
def test_every_plan_gives_the_oracle_answer_page_by_page(loaded: Loaded, plan: str,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in PLANS[plan].items():
        monkeypatch.setattr(sql, name, value)
    problems = []
    for query in CHAINS:
        expected = loaded.oracle.search(*query).matches
        found = _walk(loaded.http, _get(loaded.http, query, count=3))
        if len(found) != len(set(found)) or set(found) != expected:
            problems.append(f"{query}: server {sorted(found)}, oracle {sorted(expected)}")
    assert not problems, "\n".join(problems)


def test_the_plans_are_really_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    """The switches above change the compiled statements (so the test above compares different plans)."""
    registry = Registry.load()
    options = ParseOptions(base_url="http://test/fhir")
    query: Query = ("Patient", (("_has:Observation:subject:code", "8867-4"),))
    parsed = parse_search(query[0], list(query[1]), registry, options)
    monkeypatch.setattr(sql, "PROBE_ABOVE", -1)
    probed = sql.plan(parsed, lambda _stmt: 0)
    monkeypatch.setattr(sql, "PROBE_ABOVE", 10**9)
    collected = sql.plan(parsed, lambda _stmt: 0)
    assert "EXISTS" in str(sql.page_statement(probed))
    assert "EXISTS" not in str(sql.page_statement(collected))
    # PostgreSQL probes only where a criterion lists the candidates, which it reads in key order
    monkeypatch.setattr(sql, "PROBE_ABOVE", -1)
    assert sql.plan(parsed, lambda _stmt: 0, listed=True) == parsed
    both = parse_search("Patient", [("gender:not", "male"), *query[1], ("gender", "female")], registry, options)
    listed = sql.page_statement(sql.plan(both, lambda _stmt: 0, listed=True), lateral=True)
    compiled = str(listed.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
    assert "EXISTS" in compiled
    assert compiled.count("= ANY (array((SELECT") == 1
    assert "= ANY (array(" not in str(sql.page_statement(sql.plan(both, lambda _stmt: 0), lateral=False))
    chain = parse_search("Observation", [("subject:Patient.gender", "female")], registry, options)
    lead = sql.chain_lead(chain)
    assert lead is not None
    merged = str(sql.page_statement(chain, targets=[("Patient", "a"), ("Patient", "b")]))
    assert "json_each" in merged
    assert "json_each" not in str(sql.page_statement(chain))
    lateral = sql.page_statement(chain, targets=[("Patient", "a")], lateral=True)
    assert "LATERAL" in str(lateral.compile(dialect=postgresql.dialect()))  # type: ignore[no-untyped-call]
