"""A representative slice of the authorization matrix over HTTP, with real SMART access tokens minted
from the server's development keys, on SQLite and PostgreSQL: reads, a chain, an include, a batch and
refused writes answer as the oracle (``tests.auth.matrix``) says; denials are OperationOutcomes."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ehr.auth.signing import SigningKeys
from ehr.auth.tokens import format_scope
from ehr.mpi.link_tables import mpi_links
from ehr.settings import Settings
from ehr.store.records import now_us
from ehr.store.sql.engine import make_engine
from tests.auth.matrix import LINKS, PATIENTS, Case, Item, allows, body, cases, covers, read_status, world
from tests.conftest import LiveServer

JSON = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}
SLICE = ("alpha-patient-all", "alpha-patient-all-treat", "alpha-user-cruds", "alpha-user-cruds-treat",
         "alpha-user-cruds-bg", "alpha-user-lab", "beta-user-patient-r", "beta-steward", "alpha-patient-no-launch")


@pytest.fixture
def loaded(db_url: str, tmp_path: Path) -> Iterator[tuple[LiveServer, SigningKeys, list[Item]]]:
    with LiveServer(Settings(db_url=db_url, data_dir=tmp_path, mpi=False)) as live:
        keys = SigningKeys.load_or_create(tmp_path / "keys")
        items = world()
        for item in items:
            loader = Case("loader", item.tenant, ())
            with _client(live, keys, loader, scope="user/*.cruds") as http:
                for version in range(1, item.versions + 1):
                    answer = http.put(f"/{item.key}", json=body(item, version))
                    assert answer.status_code in (200, 201), answer.text
                if item.deleted:
                    assert http.delete(f"/{item.key}").status_code == 204
        engine = make_engine(db_url)
        with engine.begin() as conn:
            conn.execute(mpi_links.insert(), [{"source_id": s, "golden_id": g, "origin": "manual", "score": None,
                                               "actor": "matrix", "decided_at": now_us()} for s, g in LINKS.items()])
        engine.dispose()
        yield live, keys, items


def _client(live: LiveServer, keys: SigningKeys, case: Case, scope: str | None = None) -> httpx.Client:
    claims: dict[str, Any] = {
        "iss": f"http://127.0.0.1:{live.port}/auth", "aud": live.base, "sub": f"user-{case.name}",
        "client_id": "matrix", "tenant": case.tenant, "roles": list(case.roles),
        "scope": scope or " ".join(format_scope(s) for s in case.scopes or ()),
    }
    if case.patient:
        claims["patient"] = case.patient
    if case.break_glass:
        claims["break_glass"] = {"reason": "EMERGENCY", "exp": int(time.time()) + 600}
    headers = {**JSON, "Authorization": f"Bearer {keys.mint(claims)}"}
    if case.purpose:
        headers["X-Purpose-Of-Use"] = case.purpose
    return httpx.Client(base_url=live.base, headers=headers, timeout=60)


def _ids(bundle: dict[str, Any], mode: str = "match") -> set[str]:
    return {f"{e['resource']['resourceType']}/{e['resource']['id']}" for e in bundle.get("entry", [])
            if e.get("search", {}).get("mode") == mode}


def test_a_slice_of_the_matrix_over_http(loaded: tuple[LiveServer, SigningKeys, list[Item]]) -> None:
    live, keys, items = loaded
    problems: list[str] = []
    for case in [c for c in cases() if c.name in SLICE]:
        with _client(live, keys, case) as http:
            for item in items:
                response = http.get(f"/{item.key}")
                want = read_status(case, item)
                if response.status_code != want:
                    problems.append(f"{case.name} GET {item.key}: {response.status_code}, expected {want}")
                if response.status_code in (403, 404):
                    assert response.json()["resourceType"] == "OperationOutcome"
            _check_searches(http, case, items, problems)
            _check_refused_write(http, case, problems)
    assert not problems, "\n".join(problems)


def _check_searches(http: httpx.Client, case: Case, items: list[Item], problems: list[str]) -> None:
    keyed = {i.key: i for i in items}
    response = http.get("/Observation", params={"_include": "Observation:subject", "_count": "500"})
    if not allows(case, "Observation", "s"):
        if response.status_code != 403:
            problems.append(f"{case.name} Observation search: {response.status_code}, expected 403")
        return
    seen = {i.key for i in items if i.resource_type == "Observation" and covers(case, i)}
    subjects = {f"Patient/{keyed[k].subject}" for k in seen if keyed[k].subject}
    included = {k for k in subjects if covers(case, keyed[k])}
    bundle = response.json()
    if _ids(bundle) != seen or _ids(bundle, "include") != included:
        problems.append(f"{case.name} Observation?_include: {sorted(_ids(bundle))} + {sorted(_ids(bundle, 'include'))}")
    family = PATIENTS["pb1"][1]
    chained = http.get("/Observation", params={"subject:Patient.name": family, "_count": "500"}).json()
    expected = {k for k in seen if keyed[k].subject == "pb1"} if covers(case, keyed["Patient/pb1"]) else set()
    if _ids(chained) != expected:
        problems.append(f"{case.name} chain: {sorted(_ids(chained))}, expected {sorted(expected)}")


def _check_refused_write(http: httpx.Client, case: Case, problems: list[str]) -> None:
    """Another hospital's Patient is never written, whatever the scopes: 403, or 409 when invisible."""
    other = Item("Patient", "pb1", "beta", "pb1")
    response = http.put("/Patient/pb1", json=body(other, 9))
    if case.tenant != "beta" and response.status_code not in (403, 409):
        problems.append(f"{case.name} PUT Patient/pb1: {response.status_code}")
