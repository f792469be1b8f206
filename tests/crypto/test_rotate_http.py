"""``ehr keys rotate`` online: while a client keeps reading and writing over HTTP, three rotations
re-wrap every data key; no request fails, and everything stays readable afterwards."""

from __future__ import annotations

import random
import threading
from pathlib import Path

import httpx
from sqlalchemy import create_engine, select
from typer.testing import CliRunner

from ehr.cli.main import app
from ehr.settings import Settings
from ehr.store.sql.schema import data_keys
from tests.conftest import LiveServer

HEADERS = {"Content-Type": "application/fhir+json", "X-Tenant": "hospital-r"}


def _patient(family: str) -> dict[str, object]:
    return {"resourceType": "Patient", "name": [{"family": family}]}


def _traffic(base: str, ids: list[str], stop: threading.Event, failures: list[str], done: list[int]) -> None:
    """Create, read and update until told to stop; every answer that is not a success is a failure."""
    rng = random.Random(7)
    with httpx.Client(base_url=base, headers=HEADERS, timeout=60) as http:
        while not stop.is_set() or done[0] < 30:
            created = http.post("/Patient", json=_patient(f"Live{done[0]}"))
            read = http.get(f"/Patient/{rng.choice(ids)}")
            target = rng.choice(ids)
            updated = http.put(f"/Patient/{target}", json={**_patient("Updated"), "id": target})
            observed = http.post("/Observation", json={"resourceType": "Observation", "status": "final",
                                                       "code": {"text": "pulse"},
                                                       "subject": {"reference": f"Patient/{target}"}})
            for response, ok in ((created, 201), (read, 200), (updated, 200), (observed, 201)):
                if response.status_code != ok:
                    failures.append(f"{response.request.method} {response.status_code}")
            if created.status_code == 201:
                ids.append(created.json()["id"])
            done[0] += 1


def test_rotation_is_online(db_url: str, tmp_path: Path) -> None:
    # a short key cache, so that the server unwraps re-wrapped keys while the rotations run
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path, key_cache_ttl_s=0.05)
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=HEADERS, timeout=60) as http:
        ids = [http.post("/Patient", json=_patient(f"Seed{i}")).json()["id"] for i in range(20)]
        seeded = {f"patient:{pid}" for pid in ids}
        stop, done = threading.Event(), [0]
        failures: list[str] = []
        worker = threading.Thread(target=_traffic, args=(live.base, ids, stop, failures, done))
        worker.start()
        outputs = []
        try:
            for _ in range(3):
                result = CliRunner().invoke(app, ["keys", "rotate", "--db", db_url, "--data-dir", str(tmp_path),
                                                  "--batch", "5"])
                assert result.exit_code == 0, result.output
                outputs.append(result.output)
        finally:
            stop.set()
            worker.join(timeout=120)
        assert failures == []
        assert done[0] >= 30
        assert "KEK version 4" in outputs[-1]
        assert all("data keys re-wrapped" in out and " 0 data keys" not in out for out in outputs)
        for pid in ids:
            assert http.get(f"/Patient/{pid}").status_code == 200
        history = http.get("/Patient/_history", params={"_count": "1000"})
        assert history.status_code == 200
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(data_keys.c.owner, data_keys.c.kek_version)).all()
    finally:
        engine.dispose()
    # every key that existed before the rotations is under the newest KEK version; keys the server
    # created meanwhile may lag (it re-reads the newest version every few seconds: older versions stay
    # decrypt-only, so that is never a failure)
    assert {version for owner, version in rows if owner in seeded} == {4}
    assert len(rows) > len(seeded)
