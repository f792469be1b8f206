"""A first end-to-end pass over HTTP on both engines: create, read, update, delete."""

from __future__ import annotations

import httpx


def test_create_read_update_delete(client: httpx.Client) -> None:
    created = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Okafor"}]})
    assert created.status_code == 201
    pid = created.json()["id"]
    assert created.headers["ETag"] == 'W/"1"'
    assert created.headers["Location"].endswith(f"/Patient/{pid}/_history/1")
    assert client.get(f"/Patient/{pid}").json()["name"][0]["family"] == "Okafor"
    updated = client.put(f"/Patient/{pid}", json={"resourceType": "Patient", "id": pid, "active": True})
    assert updated.status_code == 200
    assert updated.json()["meta"]["versionId"] == "2"
    assert client.delete(f"/Patient/{pid}").status_code == 204
    gone = client.get(f"/Patient/{pid}")
    assert gone.status_code == 410
    assert gone.json()["resourceType"] == "OperationOutcome"
    history = client.get(f"/Patient/{pid}/_history").json()
    assert [e["response"]["etag"] for e in history["entry"]] == ['W/"3"', 'W/"2"', 'W/"1"']
