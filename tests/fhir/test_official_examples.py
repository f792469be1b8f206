"""The official FHIR R4 examples (``tests/golden/r4-examples.ndjson.gz``) round-trip over HTTP.

Every example of every served resource type is POSTed to an SQLite-backed server and read back: the
stored resource equals what was sent apart from ``id`` and ``meta.versionId``/``meta.lastUpdated``,
which the server sets. No Bundle or Parameters special case is needed: both are stored verbatim.
PostgreSQL gets a deterministic sample (the first three examples of each type by id, plus every
rejected one), to keep the suite fast. AuditEvents are written by the server only (its append-only
log), so their examples must be refused with 405.

Examples that the R4B validation rejects are not skipped silently: the exact set of rejected
``Type/id`` keys must equal ``tests/golden/rejected_examples.json``, which gives the reason for each.
"""

from __future__ import annotations

import gzip
import json
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest

from ehr.fhir.interactions.writes import READ_ONLY_TYPES
from ehr.fhir.validation import resource_types
from ehr.settings import Settings

from ..conftest import LiveServer, database_url
from .support import count, issue_expressions

GOLDEN = Path(__file__).parents[1] / "golden"
SHARDS = 4


@cache
def examples() -> tuple[dict[str, Any], ...]:
    with gzip.open(GOLDEN / "r4-examples.ndjson.gz", "rt", encoding="utf-8") as lines:
        return tuple(json.loads(line) for line in lines if line.strip())


@cache
def rejected() -> dict[str, str]:
    reasons: dict[str, str] = json.loads((GOLDEN / "rejected_examples.json").read_text("utf-8"))
    return reasons


def key(resource: dict[str, Any]) -> str:
    return f"{resource['resourceType']}/{resource.get('id', '(no id)')}"


def comparable(resource: dict[str, Any]) -> dict[str, Any]:
    """``resource`` without what the server sets: id, meta.versionId and meta.lastUpdated."""
    out = {k: v for k, v in resource.items() if k != "id"}
    meta = {k: v for k, v in (out.pop("meta", None) or {}).items() if k not in ("versionId", "lastUpdated")}
    if meta:
        out["meta"] = meta
    return out


def round_trip(client: httpx.Client, selection: list[dict[str, Any]]) -> dict[str, int]:
    """POST and read back each example; returns the rejected keys with their status codes."""
    refused: dict[str, int] = {}
    for example in selection:
        created = client.post(f"/{example['resourceType']}", json=example)
        if example["resourceType"] in READ_ONLY_TYPES:
            assert created.status_code == 405, created.text
            continue
        if created.status_code != 201:
            assert created.status_code < 500, created.text
            assert created.json()["resourceType"] == "OperationOutcome"
            refused[key(example)] = created.status_code
            continue
        read = client.get(f"/{example['resourceType']}/{created.json()['id']}")
        assert read.status_code == 200, read.text
        assert comparable(read.json()) == comparable(example), key(example)
    return refused


def test_examples_cover_every_served_type() -> None:
    assert {e["resourceType"] for e in examples()} == set(resource_types())
    assert set(rejected()) <= {key(e) for e in examples()}


def _serve(db_url: str, folder: Path) -> Iterator[httpx.Client]:
    # examples as written
    settings = Settings(auth="dev", db_url=db_url, data_dir=folder, max_body_bytes=8 << 20, mpi=False)
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=headers, timeout=60) as http:
        yield http


@pytest.fixture(scope="module")
def sqlite_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[httpx.Client]:
    folder = tmp_path_factory.mktemp("examples")
    yield from _serve(f"sqlite:///{folder / 'ehr.db'}", folder)


@pytest.fixture
def pg_client(tmp_path: Path, pg_available: bool) -> Iterator[httpx.Client]:
    yield from _serve(database_url("postgresql", tmp_path, pg_available), tmp_path)


@pytest.mark.parametrize("shard", range(SHARDS))
def test_every_example_round_trips_on_sqlite(sqlite_client: httpx.Client, shard: int) -> None:
    selection = [e for i, e in enumerate(examples()) if i % SHARDS == shard]
    refused = round_trip(sqlite_client, selection)
    expected = {k for k in rejected() if k in {key(e) for e in selection}}
    assert set(refused) == expected, "update tests/golden/rejected_examples.json (with reasons) if intended"
    assert set(refused.values()) <= {422}


def _sample() -> list[dict[str, Any]]:
    by_type: dict[str, list[dict[str, Any]]] = {}
    for example in sorted(examples(), key=lambda e: (e["resourceType"], str(e.get("id", "")))):
        by_type.setdefault(example["resourceType"], []).append(example)
    chosen = [e for group in by_type.values() for e in group[:3]]
    return chosen + [e for e in examples() if key(e) in rejected() and e not in chosen]


@pytest.mark.postgres
def test_sample_round_trips_on_postgresql(pg_client: httpx.Client) -> None:
    selection = _sample()
    assert {e["resourceType"] for e in selection} == set(resource_types())
    refused = round_trip(pg_client, selection)
    assert set(refused) == set(rejected())


def test_rejections_name_the_element_and_write_nothing(client: httpx.Client) -> None:
    for example in (e for e in examples() if key(e) in rejected()):
        resource_type = example["resourceType"]
        response = client.post(f"/{resource_type}", json=example)
        assert response.status_code == 422
        assert all(e.startswith(f"{resource_type}.") for e in issue_expressions(response.json()))
        assert issue_expressions(response.json())
        assert count(client, resource_type) == 0
