"""``ehr reindex`` on both engines while the server runs: lost and corrupted index rows are rebuilt
exactly as the writes made them, an interrupted run resumes without redoing finished batches, writes
between batches keep their own rows, and a database upgraded past an extraction change (migration 0012:
``:text`` rows) gets the new rows."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import httpx
import pytest
from rich.console import Console
from sqlalchemy import delete, select, update
from typer.testing import CliRunner

from ehr.api.app import open_services
from ehr.cli.main import app
from ehr.cli.reindex import rebuild_outdated_index, run_reindex
from ehr.fhir.interactions.context import Services
from ehr.search.extract import EXTRACTION_VERSION
from ehr.settings import Settings
from ehr.store.sql.reindex import Plan, built_with, plan, reindex
from ehr.store.sql.schema import (
    INDEX_TABLES,
    idx_composite,
    idx_quantity,
    idx_string,
    idx_token,
    reindex_progress,
    resources,
    search_index_version,
)
from ehr.store.sql.store import SqlStore
from tests.conftest import LiveServer

LOINC = "http://loinc.org"


def _resources() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for i in range(5):
        out.append({"resourceType": "Patient", "id": f"p{i}", "name": [{"family": f"Family{i}"}],
                    "identifier": [{"system": "urn:mrn", "value": f"mrn{i}"}]})
        out.append({"resourceType": "Observation", "id": f"o{i}", "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": "85354-9", "display": "Blood pressure panel"}]},
                    "subject": {"reference": f"Patient/p{i}", "display": f"Family{i}"},
                    "component": [{"code": {"coding": [{"system": LOINC, "code": "8480-6"}]},
                                   "valueQuantity": {"value": 100 + 10 * i, "system": "http://unitsofmeasure.org",
                                                     "code": "mm[Hg]"}}]})
    return out


REPO = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # counts resources
    return Settings(auth="dev", db_url=db_url, data_dir=tmp_path, max_body_bytes=8 * 1024 * 1024, mpi=False)


@pytest.fixture
def running(settings: Settings) -> Any:
    """The server on ``settings`` with the resources loaded, and its client."""
    headers = {"Content-Type": "application/fhir+json"}
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=headers, timeout=60) as client:
        entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
                   for r in _resources()]
        assert client.post("", json={"resourceType": "Bundle", "type": "transaction",
                                     "entry": entries}).status_code == 200
        yield client


@pytest.fixture
def services(settings: Settings, running: httpx.Client) -> Any:
    built = open_services(settings)
    yield built
    built.store.close()


def _store(services: Services) -> SqlStore:
    assert isinstance(services.store, SqlStore)
    return services.store


def _snapshot(store: SqlStore) -> dict[str, Counter[tuple[Any, ...]]]:
    with store.engine.connect() as conn:
        return {t.name: Counter(tuple(row) for row in conn.execute(select(t)).all()) for t in INDEX_TABLES}


def _ids(client: httpx.Client, resource_type: str, **params: str) -> set[str]:
    response = client.get(resource_type, params=params)
    assert response.status_code == 200, response.text
    return {e["resource"]["id"] for e in response.json().get("entry", [])}


SEARCHES: list[tuple[str, dict[str, str], set[str]]] = [
    ("Observation", {"component-code-value-quantity": "8480-6$gt125"}, {"o3", "o4"}),
    ("Observation", {"code": f"{LOINC}|85354-9", "subject": "Patient/p2"}, {"o2"}),
    ("Patient", {"family": "family1"}, {"p1"}),
    ("Patient", {"identifier": "urn:mrn|mrn4"}, {"p4"}),
]


def test_lost_and_corrupted_rows_are_rebuilt_exactly(running: httpx.Client, services: Services,
                                                     settings: Settings) -> None:
    store = _store(services)
    before = _snapshot(store)
    with store.engine.begin() as conn:
        conn.execute(delete(idx_token))
        conn.execute(delete(idx_composite))
        conn.execute(update(idx_string).values(norm="zzz"))
    for resource_type, params, _ in SEARCHES:
        assert _ids(running, resource_type, **params) == set()
    out = io.StringIO()
    assert run_reindex(settings, None, batch=3, console=Console(file=out, width=100)) == 10
    assert "reindexed 10 resources (*)" in out.getvalue()
    assert _snapshot(store) == before
    for resource_type, params, expected in SEARCHES:
        assert _ids(running, resource_type, **params) == expected
    with store.engine.connect() as conn:
        assert conn.execute(select(reindex_progress)).all() == []


def test_an_upgraded_database_gets_its_text_rows_from_a_reindex(running: httpx.Client, services: Services,
                                                                settings: Settings) -> None:
    """Resources written before migration 0012 have no ``code:text`` / ``subject:display`` rows, so ``:text``
    does not find them until ``ehr reindex`` has run (README, "Upgrading")."""
    store = _store(services)
    before = _snapshot(store)
    with store.engine.begin() as conn:  # as the rows of a database written before 0012 are
        conn.execute(delete(idx_string).where(idx_string.c.param.like("%:text")))
        conn.execute(delete(idx_token).where(idx_token.c.param.like("%:display")))  # blind: digests
    assert _ids(running, "Observation", **{"code:text": "blood pressure"}) == set()
    assert _ids(running, "Observation", **{"subject:text": "family3"}) == set()
    assert run_reindex(settings, "Observation", batch=4, console=Console(file=io.StringIO())) == 5
    assert _snapshot(store) == before
    assert _ids(running, "Observation", **{"code:text": "blood pressure"}) == {f"o{i}" for i in range(5)}
    assert _ids(running, "Observation", **{"subject:text": "family3"}) == {"o3"}


class Interrupted(Exception):
    """Stands for a run stopped half-way (a crash, Ctrl-C)."""


def test_an_interrupted_run_resumes_after_its_last_batch(running: httpx.Client, services: Services) -> None:
    store = _store(services)
    before = _snapshot(store)
    with store.engine.begin() as conn:
        conn.execute(delete(idx_composite))
        keys = [int(pk) for (pk,) in conn.execute(select(resources.c.pk).order_by(resources.c.pk)).all()]
    first: list[int] = []

    def stop_after_two_batches() -> None:
        for n, batch in enumerate(reindex(store, services.indexer, None, batch=3), start=1):
            first.extend(batch.pks)
            if n == 2:
                raise Interrupted

    with pytest.raises(Interrupted):
        stop_after_two_batches()
    assert first == keys[:6]
    resumed = plan(store, None)
    assert (resumed.after, resumed.remaining) == (keys[5], 4)
    assert _ids(running, "Observation", **{"component-code-value-quantity": "8480-6$gt125"}) == set()
    second = [pk for batch in reindex(store, services.indexer, None, batch=3) for pk in batch.pks]
    assert second == keys[6:]
    assert _snapshot(store) == before
    assert plan(store, None) == Plan("*", 0, 10)


def test_writes_between_batches_keep_their_own_rows(running: httpx.Client, services: Services) -> None:
    store = _store(services)
    batches = reindex(store, services.indexer, "Patient", batch=2)
    next(batches)  # p0, p1 done
    for pid, family in (("p0", "Renamed"), ("p4", "Later")):  # one already reindexed, one still to come
        body = {"resourceType": "Patient", "id": pid, "name": [{"family": family}]}
        assert running.put(f"Patient/{pid}", json=body).status_code == 200
    assert sum(len(b.pks) for b in batches) == 3
    assert _ids(running, "Patient", family="renamed") == {"p0"}
    assert _ids(running, "Patient", family="later") == {"p4"}
    assert _ids(running, "Patient", family="family4") == set()
    assert _ids(running, "Observation", subject="Patient/p4") == {"o4"}  # other types untouched


def test_the_command_line(services: Services, settings: Settings) -> None:
    runner = CliRunner()
    args = ["reindex", "--db", str(settings.db_url), "--data-dir", str(settings.data_dir)]
    result = runner.invoke(app, [*args, "--type", "Observation", "--batch", "2"])
    assert result.exit_code == 0, result.output
    assert "reindexed 5 resources (Observation)" in result.output
    result = runner.invoke(app, [*args, "--type", "Nothing"])
    assert result.exit_code == 2
    assert "not a resource type" in result.output


def _record(store: SqlStore, version: int) -> None:
    with store.engine.begin() as conn:
        conn.execute(update(search_index_version).values(extraction=version))


def test_rows_of_an_older_extraction_are_rebuilt_before_serving(running: httpx.Client, services: Services,
                                                                settings: Settings) -> None:
    """A database indexed by extraction 1 held a quantity as the range of its precision (120 as [119.5,
    120.5]): ``ehr serve`` rebuilds every row once, then starts as usual."""
    store = _store(services)
    before = _snapshot(store)
    assert built_with(store) == EXTRACTION_VERSION
    assert rebuild_outdated_index(settings) is None
    with store.engine.begin() as conn:
        conn.execute(update(idx_quantity).values(low=idx_quantity.c.value - 0.5, high=idx_quantity.c.value + 0.5))
        conn.execute(update(idx_composite).where(idx_composite.c.value.is_not(None))
                     .values(low=idx_composite.c.value - 0.5, high=idx_composite.c.value + 0.5))
    _record(store, 1)
    assert _ids(running, "Observation", **{"component-code-value-quantity": "8480-6$gt120.2"}) != {"o3", "o4"}
    out = io.StringIO()
    assert rebuild_outdated_index(settings, batch=4, console=Console(file=out, width=200)) == 10
    assert "built by extraction version 1" in out.getvalue()
    assert _snapshot(store) == before
    assert built_with(store) == EXTRACTION_VERSION
    assert _ids(running, "Observation", **{"component-code-value-quantity": "8480-6$gt120.2"}) == {"o3", "o4"}
    assert rebuild_outdated_index(settings) is None


_START = """
import sys
from pathlib import Path
from ehr.cli.reindex import rebuild_outdated_index
from ehr.settings import Settings
print(rebuild_outdated_index(Settings(auth="dev", db_url=sys.argv[1], data_dir=Path(sys.argv[2]), mpi=False), batch=2))
"""


def test_servers_starting_at_once_rebuild_one_at_a_time(running: httpx.Client, services: Services,
                                                        settings: Settings) -> None:
    """Two servers (processes) find the same outdated index at once: one rebuilds it, the other waits
    for it and then starts without rebuilding."""
    store = _store(services)
    before = _snapshot(store)
    _record(store, 1)
    command = [sys.executable, "-c", _START, str(settings.db_url), str(settings.data_dir)]
    starts = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=REPO,
                               env={**os.environ, "PYTHONPATH": str(REPO)}) for _ in range(2)]
    printed = sorted(p.communicate(timeout=120)[0].decode().strip().splitlines()[-1] for p in starts)
    assert printed == ["10", "None"]
    assert built_with(store) == EXTRACTION_VERSION
    assert _snapshot(store) == before


def test_only_a_complete_run_over_every_type_records_the_extraction(running: httpx.Client,
                                                                    services: Services) -> None:
    store = _store(services)
    _record(store, 1)
    assert sum(len(b.pks) for b in reindex(store, services.indexer, "Observation")) == 5
    assert built_with(store) == 1
    batches = reindex(store, services.indexer, None, batch=4)
    next(batches)
    assert built_with(store) == 1  # interrupted: the rest still holds older rows
    assert sum(len(b.pks) for b in batches) == 6
    assert built_with(store) == EXTRACTION_VERSION
