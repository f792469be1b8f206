"""patch (JSON Patch and FHIRPath Patch) and history at all three levels over HTTP on both engines
(https://hl7.org/fhir/R4/http.html#patch, #history). Split from ``test_interactions_http`` for size."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx

from .support import count, history_versions, issue_expressions, mrn, patient, version_of

JSON_PATCH = {"Content-Type": "application/json-patch+json"}


def _create(client: httpx.Client, resource: dict[str, Any]) -> str:
    response = client.post(f"/{resource['resourceType']}", json=resource)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _operation(kind: str, path: str, **parts: Any) -> dict[str, Any]:
    part = [{"name": "type", "valueCode": kind}, {"name": "path", "valueString": path}]
    part += [{"name": name, **value} for name, value in parts.items()]
    return {"name": "operation", "part": part}


def _parameters(*operations: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Parameters", "parameter": list(operations)}


def test_json_patch(client: httpx.Client) -> None:
    pid = _create(client, patient("Before", gender="male", name=[{"family": "A"}, {"family": "B"}]))
    ops = [{"op": "add", "path": "/active", "value": True},
           {"op": "replace", "path": "/gender", "value": "female"},
           {"op": "remove", "path": "/name/1"},
           {"op": "test", "path": "/name/0/family", "value": "A"}]
    patched = client.patch(f"/Patient/{pid}", json=ops, headers=JSON_PATCH)
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["active"] is True
    assert body["gender"] == "female"
    assert body["name"] == [{"family": "A"}]
    assert body["meta"]["versionId"] == "2"
    assert patched.headers["ETag"] == 'W/"2"'

    failed_test = [{"op": "test", "path": "/gender", "value": "male"}, {"op": "remove", "path": "/gender"}]
    assert client.patch(f"/Patient/{pid}", json=failed_test, headers=JSON_PATCH).status_code == 422
    bad_path = [{"op": "remove", "path": "/name/7"}]
    assert client.patch(f"/Patient/{pid}", json=bad_path, headers=JSON_PATCH).status_code == 400
    not_a_list = {"op": "remove", "path": "/gender"}
    assert client.patch(f"/Patient/{pid}", json=not_a_list, headers=JSON_PATCH).status_code == 400
    invalid_result = [{"op": "add", "path": "/birthDate", "value": "1970-13-01"}]
    assert client.patch(f"/Patient/{pid}", json=invalid_result, headers=JSON_PATCH).status_code == 422
    stale = client.patch(f"/Patient/{pid}", json=[{"op": "remove", "path": "/active"}],
                         headers={**JSON_PATCH, "If-Match": 'W/"1"'})
    assert stale.status_code == 412
    current = client.get(f"/Patient/{pid}").json()
    assert current["meta"]["versionId"] == "2"
    assert current["gender"] == "female"


def test_json_patch_is_conditional_too(client: httpx.Client) -> None:
    pid = _create(client, patient(identifier=mrn("jp-1")))
    patched = client.patch("/Patient?identifier=http://hospital.example/mrn|jp-1",
                           json=[{"op": "add", "path": "/active", "value": False}], headers=JSON_PATCH)
    assert patched.status_code == 200
    assert patched.json()["id"] == pid
    assert patched.json()["active"] is False
    ops = [{"op": "add", "path": "/gender", "value": "other"}]
    none = client.patch("/Patient?identifier=http://hospital.example/mrn|jp-0", json=ops, headers=JSON_PATCH)
    assert none.status_code == 404, "a conditional patch matching nothing is 404 (a patch cannot create)"
    _create(client, patient(identifier=mrn("jp-1")))
    many = client.patch("/Patient?identifier=http://hospital.example/mrn|jp-1", json=ops, headers=JSON_PATCH)
    assert many.status_code == 412
    assert count(client, "Patient", gender="other") == 0


def test_fhirpath_patch(client: httpx.Client) -> None:
    identifiers = [{"system": "urn:s", "value": "one"}, {"system": "urn:s", "value": "two"}]
    pid = _create(client, patient("Path", name=[{"family": "A"}, {"family": "B"}], identifier=identifiers,
                                  birthDate="1970-01-01"))
    document = _parameters(
        _operation("add", "Patient", name={"valueString": "active"}, value={"valueBoolean": True}),
        _operation("replace", "Patient.birthDate", value={"valueDate": "1990-05-06"}),
        _operation("delete", "Patient.name[1]"),
        _operation("insert", "Patient.identifier", index={"valueInteger": 0},
                   value={"valueIdentifier": {"system": "urn:s", "value": "zero"}}),
        _operation("move", "Patient.identifier", source={"valueInteger": 0}, destination={"valueInteger": 2}),
    )
    patched = client.patch(f"/Patient/{pid}", json=document)
    assert patched.status_code == 200, patched.text
    body = patched.json()
    assert body["active"] is True
    assert body["birthDate"] == "1990-05-06"
    assert body["name"] == [{"family": "A"}]
    assert [i["value"] for i in body["identifier"]] == ["one", "two", "zero"]
    assert body["meta"]["versionId"] == "2"

    unsupported = _parameters(_operation("delete", "Patient.name.select(family)"))
    refused = client.patch(f"/Patient/{pid}", json=unsupported)
    assert refused.status_code == 422
    assert issue_expressions(refused.json()) == ["Parameters.parameter[0]"]
    bad_type = _parameters(_operation("rename", "Patient.name"))
    assert client.patch(f"/Patient/{pid}", json=bad_type).status_code == 422
    assert client.get(f"/Patient/{pid}").json()["meta"]["versionId"] == "2"


def test_patch_of_unknown_or_deleted(client: httpx.Client) -> None:
    ops = [{"op": "add", "path": "/active", "value": True}]
    assert client.patch("/Patient/nobody", json=ops, headers=JSON_PATCH).status_code == 404
    pid = _create(client, patient())
    assert client.delete(f"/Patient/{pid}").status_code == 204
    assert client.patch(f"/Patient/{pid}", json=ops, headers=JSON_PATCH).status_code == 410


def _write_some(client: httpx.Client) -> tuple[list[str], list[str]]:
    """Three Patients with 1, 2 and 3 versions and two Observations: 8 versions in all."""
    pids = [_create(client, patient(f"H{i}")) for i in range(3)]
    for i, pid in enumerate(pids):
        for v in range(i):
            assert client.put(f"/Patient/{pid}", json=patient(f"H{i}v{v}", id=pid)).status_code == 200
    obs = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}}
    oids = [_create(client, obs) for _ in range(2)]
    return pids, oids


def test_history_levels_paged_every_version_once(client: httpx.Client) -> None:
    pids, oids = _write_some(client)
    system = history_versions(client, "/_history?_count=3")
    keys = Counter((e["fullUrl"].rsplit("/", 2)[-2], e["fullUrl"].rsplit("/", 1)[-1], version_of(e))
                   for e in system)
    assert max(keys.values()) == 1
    expected = {("Patient", pid, v) for i, pid in enumerate(pids) for v in range(1, i + 2)}
    expected |= {("Observation", oid, 1) for oid in oids}
    assert set(keys) == expected
    patient_history = history_versions(client, "/Patient/_history?_count=2")
    assert len(patient_history) == 6
    assert all("/Patient/" in e["fullUrl"] for e in patient_history)
    instance = history_versions(client, f"/Patient/{pids[2]}/_history?_count=1")
    assert [version_of(e) for e in instance] == [3, 2, 1]
    assert [e["resource"]["meta"]["versionId"] for e in instance] == ["3", "2", "1"]
    first_page = client.get("/_history", params={"_count": "3"}).json()
    assert len(first_page["entry"]) == 3
    assert any(link["relation"] == "next" for link in first_page["link"])
    assert client.get("/Patient/nobody/_history").status_code == 404
    assert client.get("/_history", params={"_count": "x"}).status_code == 400
    assert client.get("/_history", params={"name": "x"}).status_code == 400


def test_history_since_and_at(client: httpx.Client) -> None:
    early = _create(client, patient("Early"))
    middle = client.put(f"/Patient/{early}", json=patient("Middle", id=early)).json()
    at_middle = middle["meta"]["lastUpdated"]
    late = client.post("/Patient", json=patient("Late")).json()
    assert client.put(f"/Patient/{early}", json=patient("Last", id=early)).status_code == 200
    since = history_versions(client, f"/Patient/_history?_since={late['meta']['lastUpdated']}&_count=1")
    assert sorted((e["fullUrl"].rsplit("/", 1)[-1], version_of(e)) for e in since) == sorted(
        [(late["id"], 1), (early, 3)])
    at = history_versions(client, f"/Patient/_history?_at={at_middle}")
    assert [(e["fullUrl"].rsplit("/", 1)[-1], version_of(e)) for e in at] == [(early, 2)]
    instance_since = history_versions(client, f"/Patient/{early}/_history?_since={at_middle}")
    assert [version_of(e) for e in instance_since] == [3, 2]
    future = client.get("/_history", params={"_since": "2999-01-01T00:00:00Z"}).json()
    assert "entry" not in future
    assert count(client, "Patient") == 2
