"""No lost updates: 32 clients update one resource with ``If-Match`` read-modify-write loops, over HTTP
on both engines (https://hl7.org/fhir/R4/http.html#concurrency)."""

from __future__ import annotations

import random
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from tests.conftest import LiveServer

from .support import history_versions, version_of

CLIENTS = 32
UPDATES_EACH = 3
MAX_ATTEMPTS = 5_000


def _marker(client_no: int) -> str:
    return f"client-{client_no}"


def _land_updates(base: str, pid: str, client_no: int, start: threading.Barrier) -> list[int]:
    """Read, change, write with If-Match; retry on 412/409 until ``UPDATES_EACH`` writes landed."""
    headers = {"Content-Type": "application/fhir+json", "Accept": "application/fhir+json"}
    rng = random.Random(client_no)
    landed: list[int] = []
    with httpx.Client(base_url=base, headers=headers, timeout=60) as http:
        start.wait()
        for attempt in range(MAX_ATTEMPTS):
            if len(landed) == UPDATES_EACH:
                return landed
            current = http.get(f"/Patient/{pid}")
            assert current.status_code == 200, current.text
            resource = current.json()
            resource["name"] = [{"family": "Contended", "given": [_marker(client_no)]}]
            written = http.put(f"/Patient/{pid}", json=resource, headers={"If-Match": current.headers["ETag"]})
            if written.status_code == 200:
                version = int(written.json()["meta"]["versionId"])
                assert written.headers["ETag"] == f'W/"{version}"'
                assert version == int(resource["meta"]["versionId"]) + 1
                landed.append(version)
            elif written.status_code in (409, 412):
                time.sleep(rng.uniform(0, 0.002 * min(attempt, 10)))  # jitter, not a timing assertion
            else:
                raise AssertionError(f"unexpected {written.status_code}: {written.text}")
    raise AssertionError(f"client {client_no} landed only {len(landed)} updates in {MAX_ATTEMPTS} attempts")


def test_concurrent_if_match_updates_lose_nothing(client: httpx.Client) -> None:
    created = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Contended"}]})
    assert created.status_code == 201
    pid = created.json()["id"]
    base = str(client.base_url).rstrip("/")
    start = threading.Barrier(CLIENTS)
    with ThreadPoolExecutor(max_workers=CLIENTS) as pool:
        futures = [pool.submit(_land_updates, base, pid, n, start) for n in range(CLIENTS)]
        landed = {n: f.result() for n, f in enumerate(futures)}

    final = 1 + CLIENTS * UPDATES_EACH
    current = client.get(f"/Patient/{pid}")
    assert current.headers["ETag"] == f'W/"{final}"'
    assert current.json()["meta"]["versionId"] == str(final)

    all_landed = sorted(v for versions in landed.values() for v in versions)
    assert all_landed == list(range(2, final + 1))

    history = history_versions(client, f"/Patient/{pid}/_history?_count=25")
    versions = [version_of(e) for e in history]
    assert versions == list(range(final, 0, -1))
    for entry in history:
        assert entry["resource"]["meta"]["versionId"] == str(version_of(entry))
    by_marker: dict[str, set[int]] = {}
    for entry in history:
        given = entry["resource"]["name"][0].get("given", ["(creator)"])[0]
        by_marker.setdefault(given, set()).add(version_of(entry))
    assert by_marker.pop("(creator)") == {1}
    assert by_marker == {_marker(n): set(versions) for n, versions in landed.items()}


def _conditional_create(base: str, start: threading.Barrier) -> tuple[int, str]:
    headers = {"Content-Type": "application/fhir+json", "If-None-Exist": "identifier=http://race.example|1"}
    body = {"resourceType": "Patient", "identifier": [{"system": "http://race.example", "value": "1"}]}
    with httpx.Client(base_url=base, timeout=60) as http:
        start.wait()
        answer = http.post("/Patient", json=body, headers=headers)
    return answer.status_code, str(answer.json()["id"])


def test_concurrent_conditional_creates_make_one_resource(server: LiveServer) -> None:
    """16 clients race the same If-None-Exist create: exactly one creates (201), all see its id."""
    start = threading.Barrier(16)
    with ThreadPoolExecutor(max_workers=16) as pool:
        answers = list(pool.map(lambda _: _conditional_create(server.base, start), range(16)))
    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * 15 + [201]
    assert len({pid for _, pid in answers}) == 1
    with httpx.Client(base_url=server.base, timeout=60) as http:
        found = http.get("/Patient", params={"identifier": "http://race.example|1", "_total": "accurate"})
    assert found.json()["total"] == 1
