"""batch and transaction Bundles over HTTP on both engines (https://hl7.org/fhir/R4/http.html#transaction):
reference rewriting, all-or-nothing, processing order, conditional entries and references."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from .support import count, diagnostics, issue_expressions, mrn, patient

MRN = "http://hospital.example/mrn"


def _entry(method: str, url: str, resource: dict[str, Any] | None = None, full_url: str | None = None,
           **request: str) -> dict[str, Any]:
    out: dict[str, Any] = {"request": {"method": method, "url": url, **request}}
    if resource is not None:
        out["resource"] = resource
    if full_url is not None:
        out["fullUrl"] = full_url
    return out


def _bundle(kind: str, *entries: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "Bundle", "type": kind, "entry": list(entries)}


def _observation(subject: str, text: str = "heart rate") -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "code": {"text": text},
            "subject": {"reference": subject}}


def _post(client: httpx.Client, bundle: dict[str, Any]) -> httpx.Response:
    """POST to the base URL itself (httpx's base_url ends in '/', and /fhir/ redirects to /fhir)."""
    return client.post(str(client.base_url).rstrip("/"), json=bundle)


def _status(entry: dict[str, Any]) -> int:
    return int(str(entry["response"]["status"]).split()[0])


def test_urn_uuid_references_are_rewritten(client: httpx.Client) -> None:
    urn = f"urn:uuid:{uuid.uuid4()}"
    response = _post(client, _bundle(
        "transaction",
        _entry("POST", "Observation", _observation(urn, "one")),
        _entry("POST", "Patient", patient("Urn"), full_url=urn),
        _entry("POST", "Observation", _observation(urn, "two")),
    ))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "transaction-response"
    assert [_status(e) for e in body["entry"]] == [201, 201, 201]
    location = body["entry"][1]["response"]["location"]
    pid = location.split("/")[1]
    assert location == f"Patient/{pid}/_history/1"
    searched = client.get("/Observation", params={"subject": f"Patient/{pid}"}).json()
    assert searched["total"] if "total" in searched else len(searched["entry"]) == 2
    assert {e["resource"]["subject"]["reference"] for e in searched["entry"]} == {f"Patient/{pid}"}
    assert client.get(f"/Patient/{pid}").json()["name"][0]["family"] == "Urn"


def test_transaction_is_all_or_nothing(client: httpx.Client) -> None:
    existing = client.post("/Patient", json=patient("Existing")).json()
    urn = f"urn:uuid:{uuid.uuid4()}"
    bad = {"resourceType": "Observation", "status": "final", "code": {"text": "x"}, "valueBogus": 1}
    response = _post(client, _bundle(
        "transaction",
        _entry("POST", "Patient", patient("Never"), full_url=urn),
        _entry("POST", "Observation", _observation(urn)),
        _entry("PUT", f"Patient/{existing['id']}", patient("Changed", id=existing["id"])),
        _entry("DELETE", f"Patient/{existing['id']}"),
        _entry("POST", "Observation", bad),
    ))
    assert response.status_code == 422
    outcome = response.json()
    assert "Bundle.entry[4]" in diagnostics(outcome)
    assert any(e.startswith("Bundle.entry[4]") for e in issue_expressions(outcome))
    assert count(client, "Patient") == 1
    assert count(client, "Observation") == 0
    assert count(client, "Patient", family="Never") == 0
    current = client.get(f"/Patient/{existing['id']}")
    assert current.status_code == 200
    assert current.json()["meta"]["versionId"] == "1"
    assert len(client.get("/_history").json()["entry"]) == 1


def test_failing_put_names_its_entry(client: httpx.Client) -> None:
    response = _post(client, _bundle(
        "transaction",
        _entry("POST", "Patient", patient("A")),
        _entry("PUT", "Patient/p1", patient("B", id="p1", birthDate="2020-13-01")),
    ))
    assert response.status_code == 422
    assert "Bundle.entry[1]" in diagnostics(response.json())
    assert count(client, "Patient") == 0


def test_processing_order_delete_post_put_get(client: httpx.Client) -> None:
    old = client.post("/Patient", json=patient("Old", identifier=mrn("order"))).json()
    put_target = client.put("/Patient/put-me", json=patient("Put", id="put-me")).json()
    response = _post(client, _bundle(
        "transaction",
        _entry("GET", f"Patient?identifier={MRN}|order"),
        _entry("PUT", "Patient/put-me", patient("Put2", id="put-me"), ifMatch='W/"1"'),
        _entry("POST", "Patient", patient("New", identifier=mrn("order"))),
        _entry("DELETE", f"Patient/{old['id']}"),
        _entry("GET", "Patient/put-me"),
    ))
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert [_status(e) for e in entries] == [200, 200, 201, 204, 200]
    found = entries[0]["resource"]
    assert found["resourceType"] == "Bundle"
    assert [e["resource"]["name"][0]["family"] for e in found["entry"]] == ["New"]
    assert entries[4]["resource"]["name"][0]["family"] == "Put2"
    assert entries[4]["resource"]["meta"]["versionId"] == "2"
    assert put_target["meta"]["versionId"] == "1"
    assert client.get(f"/Patient/{old['id']}").status_code == 410
    assert count(client, "Patient", identifier=f"{MRN}|order") == 1


def test_conditional_create_in_transaction(client: httpx.Client) -> None:
    existing = client.post("/Patient", json=patient("Known", identifier=mrn("ine-1"))).json()
    urn_known, urn_new = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
    response = _post(client, _bundle(
        "transaction",
        _entry("POST", "Patient", patient("Dup", identifier=mrn("ine-1")), full_url=urn_known,
               ifNoneExist=f"identifier={MRN}|ine-1"),
        _entry("POST", "Patient", patient("Fresh", identifier=mrn("ine-2")), full_url=urn_new,
               ifNoneExist=f"identifier={MRN}|ine-2"),
        _entry("POST", "Observation", _observation(urn_known)),
        _entry("POST", "Observation", _observation(urn_new)),
    ))
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert [_status(e) for e in entries] == [200, 201, 201, 201]
    assert entries[0]["response"]["location"].startswith(f"Patient/{existing['id']}/")
    new_id = entries[1]["response"]["location"].split("/")[1]
    subjects = sorted(e["resource"]["subject"]["reference"]
                      for e in client.get("/Observation").json()["entry"])
    assert subjects == sorted([f"Patient/{existing['id']}", f"Patient/{new_id}"])
    assert count(client, "Patient") == 2


def test_conditional_references(client: httpx.Client) -> None:
    one = client.post("/Patient", json=patient("One", identifier=mrn("cr-1"))).json()
    for _ in range(2):
        client.post("/Patient", json=patient("Twin", identifier=mrn("cr-2")))
    ok = _post(client, _bundle("transaction",
                               _entry("POST", "Observation", _observation(f"Patient?identifier={MRN}|cr-1"))))
    assert ok.status_code == 200, ok.text
    stored = client.get("/Observation").json()["entry"][0]["resource"]
    assert stored["subject"]["reference"] == f"Patient/{one['id']}"
    for criteria in (f"identifier={MRN}|cr-2", f"identifier={MRN}|cr-none"):
        refused = _post(client, _bundle(
            "transaction",
            _entry("POST", "Patient", patient("Side effect")),
            _entry("POST", "Observation", _observation(f"Patient?{criteria}")),
        ))
        assert refused.status_code == 412, refused.text
        assert "Bundle.entry[1]" in diagnostics(refused.json())
    assert count(client, "Observation") == 1
    assert count(client, "Patient") == 3


def test_batch_entries_are_independent(client: httpx.Client) -> None:
    response = _post(client, _bundle(
        "batch",
        _entry("POST", "Patient", patient("Batch1")),
        _entry("POST", "Patient", patient("Bad", birthDate="2020-13-01")),
        _entry("GET", "Patient/nobody"),
        _entry("PUT", "Patient/b3", patient("Batch3", id="b3")),
        _entry("PUT", "Patient/b4", patient("Mismatch", id="other")),
    ))
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["type"] == "batch-response"
    entries = body["entry"]
    assert [_status(e) for e in entries] == [201, 422, 404, 201, 400]
    for failed in (entries[1], entries[2], entries[4]):
        assert failed["response"]["outcome"]["resourceType"] == "OperationOutcome"
    assert "Patient.birthDate" in issue_expressions(entries[1]["response"]["outcome"])[0]
    assert count(client, "Patient") == 2
    assert client.get("/Patient/b3").status_code == 200


def test_bundle_errors(client: httpx.Client) -> None:
    assert _post(client, {"resourceType": "Bundle", "type": "collection"}).status_code == 400
    assert _post(client, patient()).status_code == 400
    no_request = {"resourceType": "Bundle", "type": "transaction", "entry": [{"resource": patient()}]}
    refused = _post(client, no_request)
    assert refused.status_code == 400
    assert issue_expressions(refused.json()) == ["Bundle.entry[0]"]
    assert count(client, "Patient") == 0


def test_thousand_entry_transaction(client: httpx.Client) -> None:
    urn = f"urn:uuid:{uuid.uuid4()}"
    entries = [_entry("POST", "Patient", patient("Thousand"), full_url=urn)]
    entries += [_entry("POST", "Observation", _observation(urn, f"obs {i}")) for i in range(999)]
    response = _post(client, _bundle("transaction", *entries))
    assert response.status_code == 200, response.text[:500]
    results = response.json()["entry"]
    assert len(results) == 1000
    assert all(_status(e) == 201 for e in results)
    pid = results[0]["response"]["location"].split("/")[1]
    assert count(client, "Observation", subject=f"Patient/{pid}") == 999
    assert count(client, "Patient") == 1


def test_conditional_update_and_delete_entries(client: httpx.Client) -> None:
    """Criteria holding URLs (identifier=http://...|v) keep their query inside a Bundle entry."""
    doomed = client.post("/Patient", json=patient("Doomed", identifier=mrn("ce-del"))).json()
    kept = client.post("/Patient", json=patient("Kept", identifier=mrn("ce-put"))).json()
    response = _post(client, _bundle(
        "transaction",
        _entry("DELETE", f"Patient?identifier={MRN}|ce-del"),
        _entry("PUT", f"Patient?identifier={MRN}|ce-put", patient("Updated", identifier=mrn("ce-put"))),
        _entry("PUT", f"Patient?identifier={MRN}|ce-new", patient("Created", identifier=mrn("ce-new"))),
        _entry("GET", f"{str(client.base_url).rstrip('/')}/Patient?identifier={MRN}|ce-put"),
    ))
    assert response.status_code == 200, response.text
    entries = response.json()["entry"]
    assert [_status(e) for e in entries] == [204, 200, 201, 200]
    assert client.get(f"/Patient/{doomed['id']}").status_code == 410
    assert client.get(f"/Patient/{kept['id']}").json()["name"][0]["family"] == "Updated"
    assert [e["resource"]["id"] for e in entries[3]["resource"]["entry"]] == [kept["id"]]
    assert count(client, "Patient") == 2


def test_transaction_without_posts(client: httpx.Client) -> None:
    response = _post(client, _bundle(
        "transaction",
        _entry("PUT", "Patient/only-put", patient("OnlyPut", id="only-put")),
        _entry("GET", "Patient/only-put"),
    ))
    assert response.status_code == 200, response.text
    assert [_status(e) for e in response.json()["entry"]] == [201, 200]
    empty = _post(client, {"resourceType": "Bundle", "type": "transaction"})
    assert empty.status_code == 200, empty.text
    assert count(client, "Patient") == 1


def test_overlapping_identities_fail_the_transaction(client: httpx.Client) -> None:
    """https://hl7.org/fhir/R4/http.html#trules: overlapping identities SHALL fail the transaction."""
    assert client.put("/Patient/dup", json=patient("Zero", id="dup", identifier=mrn("dup"))).status_code == 201
    for entries in ((_entry("PUT", "Patient/dup", patient("One", id="dup")),
                     _entry("PUT", "Patient/dup", patient("Two", id="dup"))),
                    (_entry("DELETE", "Patient/dup"),
                     _entry("PUT", "Patient/dup", patient("Three", id="dup"))),
                    (_entry("PUT", "Patient/dup", patient("Four", id="dup")),
                     _entry("PUT", f"Patient?identifier={MRN}|dup", patient("Five", identifier=mrn("dup")))),
                    (_entry("POST", "Patient", patient("Six", identifier=mrn("dup"))),
                     _entry("PATCH", "Patient/dup", _fhirpath_replace_family("Seven")),
                     _entry("PATCH", f"{str(client.base_url).rstrip('/')}/Patient/dup",
                            _fhirpath_replace_family("Eight")))):
        response = _post(client, _bundle("transaction", *entries))
        assert response.status_code == 400, response.text
        assert "Bundle.entry[1]" in diagnostics(response.json())
        assert "Patient/dup" in diagnostics(response.json())
    assert client.get("/Patient/dup").json()["meta"]["versionId"] == "1"
    assert count(client, "Patient") == 1


def _fhirpath_replace_family(family: str) -> dict[str, Any]:
    part = [{"name": "type", "valueCode": "replace"}, {"name": "path", "valueString": "Patient.name[0].family"},
            {"name": "value", "valueString": family}]
    return {"resourceType": "Parameters", "parameter": [{"name": "operation", "part": part}]}
