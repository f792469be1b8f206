"""The RESTful interactions over HTTP on both engines (https://hl7.org/fhir/R4/http.html): read,
vread, create, update, delete, their conditional forms, headers, Prefer, $validate, /metadata and
the result parameters. Patch and history are in ``test_patch_history_http``."""

from __future__ import annotations

import httpx
import pytest

from .support import count, diagnostics, issue_expressions, mrn, patient

MRN = "http://hospital.example/mrn"


def _create(client: httpx.Client, **extra: object) -> str:
    response = client.post("/Patient", json=patient(**extra))  # type: ignore[arg-type]
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def test_read_and_vread_unknown_and_deleted(client: httpx.Client) -> None:
    assert client.get("/Patient/does-not-exist").status_code == 404
    assert client.get("/Patient/does-not-exist/_history/1").status_code == 404
    pid = _create(client, family="Read")
    assert client.get(f"/Patient/{pid}/_history/1").json()["name"][0]["family"] == "Read"
    missing = client.get(f"/Patient/{pid}/_history/2")
    assert missing.status_code == 404
    assert missing.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/Patient/{pid}/_history/x").status_code == 400
    assert client.delete(f"/Patient/{pid}").status_code == 204
    gone = client.get(f"/Patient/{pid}")
    assert gone.status_code == 410
    assert gone.headers["ETag"] == 'W/"2"'
    assert client.get(f"/Patient/{pid}/_history/2").status_code == 410
    assert client.get(f"/Patient/{pid}/_history/1").status_code == 200
    history = client.get(f"/Patient/{pid}/_history").json()
    assert [e["request"]["method"] for e in history["entry"]] == ["DELETE", "POST"]
    assert "resource" not in history["entry"][0]
    assert history["entry"][1]["resource"]["name"][0]["family"] == "Read"


def test_create_ignores_body_id_and_sets_meta_and_headers(client: httpx.Client) -> None:
    body = patient("Meta", id="client-chosen",
                   meta={"versionId": "99", "lastUpdated": "2000-01-01T00:00:00Z", "tag": [{"code": "kept"}]})
    created = client.post("/Patient", json=body)
    assert created.status_code == 201
    resource = created.json()
    pid = resource["id"]
    assert pid != "client-chosen"
    assert client.get("/Patient/client-chosen").status_code == 404
    assert resource["meta"]["versionId"] == "1"
    assert not resource["meta"]["lastUpdated"].startswith("2000")
    assert resource["meta"]["tag"] == [{"code": "kept"}]
    assert created.headers["ETag"] == 'W/"1"'
    assert created.headers["Location"] == f"{client.base_url}Patient/{pid}/_history/1"
    assert created.headers["Last-Modified"].endswith(" GMT")
    assert created.headers["Content-Type"].startswith("application/fhir+json")
    read = client.get(f"/Patient/{pid}")
    assert read.headers["ETag"] == 'W/"1"'
    assert read.headers["Last-Modified"] == created.headers["Last-Modified"]
    assert read.json() == resource


def test_update_overwrites_client_meta(client: httpx.Client) -> None:
    pid = _create(client)
    body = patient("Second", id=pid, meta={"versionId": "1", "lastUpdated": "1999-01-01T00:00:00Z"})
    updated = client.put(f"/Patient/{pid}", json=body)
    assert updated.status_code == 200
    assert updated.json()["meta"]["versionId"] == "2"
    assert not updated.json()["meta"]["lastUpdated"].startswith("1999")
    assert updated.headers["ETag"] == 'W/"2"'
    assert client.get(f"/Patient/{pid}").json()["meta"]["versionId"] == "2"


def test_update_as_create_with_client_id(client: httpx.Client) -> None:
    first = client.put("/Patient/chosen-1", json=patient("Chosen", id="chosen-1"))
    assert first.status_code == 201
    assert first.headers["Location"].endswith("/Patient/chosen-1/_history/1")
    second = client.put("/Patient/chosen-1", json=patient("Chosen", id="chosen-1", active=True))
    assert second.status_code == 200
    assert second.json()["meta"]["versionId"] == "2"
    assert client.get("/Patient/chosen-1").json()["active"] is True


def test_if_match(client: httpx.Client) -> None:
    pid = _create(client)
    assert client.put(f"/Patient/{pid}", json=patient("Two", id=pid)).status_code == 200
    stale = client.put(f"/Patient/{pid}", json=patient("Stale", id=pid), headers={"If-Match": 'W/"1"'})
    assert stale.status_code == 412
    assert stale.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/Patient/{pid}").json()["name"][0]["family"] == "Two"
    fresh = client.put(f"/Patient/{pid}", json=patient("Three", id=pid), headers={"If-Match": 'W/"2"'})
    assert fresh.status_code == 200
    assert fresh.headers["ETag"] == 'W/"3"'
    assert client.delete(f"/Patient/{pid}", headers={"If-Match": 'W/"2"'}).status_code == 412
    assert client.get(f"/Patient/{pid}").status_code == 200
    assert client.delete(f"/Patient/{pid}", headers={"If-Match": 'W/"3"'}).status_code == 204


def test_conditional_read(client: httpx.Client) -> None:
    pid = _create(client)
    first = client.get(f"/Patient/{pid}")
    not_modified = client.get(f"/Patient/{pid}", headers={"If-None-Match": first.headers["ETag"]})
    assert not_modified.status_code == 304
    assert not_modified.content == b""
    assert client.get(f"/Patient/{pid}", headers={"If-None-Match": 'W/"7"'}).status_code == 200
    since = client.get(f"/Patient/{pid}", headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304
    old = client.get(f"/Patient/{pid}", headers={"If-Modified-Since": "Mon, 01 Jan 2001 00:00:00 GMT"})
    assert old.status_code == 200


@pytest.mark.parametrize("method", ["post", "put"])
def test_prefer_return(client: httpx.Client, method: str) -> None:
    def write(prefer: str | None, family: str) -> httpx.Response:
        headers = {"Prefer": f"return={prefer}"} if prefer else {}
        if method == "post":
            return client.post("/Patient", json=patient(family), headers=headers)
        return client.put(f"/Patient/p-{family}", json=patient(family, id=f"p-{family}"), headers=headers)

    minimal = write("minimal", "Minimal")
    assert minimal.status_code == 201
    assert minimal.content == b""
    assert minimal.headers["ETag"] == 'W/"1"'
    assert "/Patient/" in minimal.headers["Location"]
    representation = write("representation", "Repr")
    assert representation.json()["name"][0]["family"] == "Repr"
    outcome = write("OperationOutcome", "Outcome")
    assert outcome.status_code == 201
    assert outcome.json()["resourceType"] == "OperationOutcome"
    assert outcome.json()["issue"][0]["severity"] == "information"
    assert write(None, "Default").json()["resourceType"] == "Patient"
    assert count(client, "Patient") == 4


def test_conditional_create(client: httpx.Client) -> None:
    condition = {"If-None-Exist": f"identifier={MRN}|cc-1"}
    first = client.post("/Patient", json=patient(identifier=mrn("cc-1")), headers=condition)
    assert first.status_code == 201
    again = client.post("/Patient", json=patient("Other", identifier=mrn("cc-1")), headers=condition)
    assert again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    assert again.json()["name"][0]["family"] == "Doe"
    assert count(client, "Patient", identifier=f"{MRN}|cc-1") == 1
    client.post("/Patient", json=patient(identifier=mrn("cc-1")))
    ambiguous = client.post("/Patient", json=patient(identifier=mrn("cc-1")), headers=condition)
    assert ambiguous.status_code == 412
    assert count(client, "Patient", identifier=f"{MRN}|cc-1") == 2


def test_conditional_update(client: httpx.Client) -> None:
    url = f"/Patient?identifier={MRN}|cu-1"
    created = client.put(url, json=patient("None", identifier=mrn("cu-1")))
    assert created.status_code == 201
    pid = created.json()["id"]
    updated = client.put(url, json=patient("One", identifier=mrn("cu-1")))
    assert updated.status_code == 200
    assert updated.json()["id"] == pid
    assert updated.json()["meta"]["versionId"] == "2"
    client.post("/Patient", json=patient("Twin", identifier=mrn("cu-1")))
    many = client.put(url, json=patient("Many", identifier=mrn("cu-1")))
    assert many.status_code == 412
    assert count(client, "Patient", family="Many") == 0
    assert count(client, "Patient", identifier=f"{MRN}|cu-1") == 2


def test_conditional_delete(client: httpx.Client) -> None:
    assert client.delete(f"/Patient?identifier={MRN}|cd-0").status_code == 204
    pid = _create(client, identifier=mrn("cd-1"))
    assert client.delete(f"/Patient?identifier={MRN}|cd-1").status_code == 204
    assert client.get(f"/Patient/{pid}").status_code == 410
    keep = [_create(client, identifier=mrn("cd-2")) for _ in range(2)]
    assert client.delete(f"/Patient?identifier={MRN}|cd-2").status_code == 412
    assert all(client.get(f"/Patient/{k}").status_code == 200 for k in keep)
    assert client.delete("/Patient").status_code == 400


def test_validate_operation(client: httpx.Client) -> None:
    valid = client.post("/Patient/$validate", json=patient(birthDate="1980-02-29"))
    assert valid.status_code == 200
    assert valid.json()["resourceType"] == "OperationOutcome"
    invalid = client.post("/Patient/$validate", json=patient(birthDate="1981-02-29"))
    assert invalid.status_code == 422
    assert any(e.startswith("Patient.birthDate") for e in issue_expressions(invalid.json()))
    wrapped = {"resourceType": "Parameters",
               "parameter": [{"name": "resource", "resource": patient(gender="female")}]}
    assert client.post("/Patient/$validate", json=wrapped).status_code == 200
    assert count(client, "Patient") == 0


def test_metadata(client: httpx.Client) -> None:
    response = client.get("/metadata")
    assert response.status_code == 200
    statement = response.json()
    assert statement["resourceType"] == "CapabilityStatement"
    assert statement["fhirVersion"] == "4.0.1"
    rest = statement["rest"][0]
    assert {"transaction", "batch", "history-system"} <= {i["code"] for i in rest["interaction"]}
    patient_entry = next(r for r in rest["resource"] if r["type"] == "Patient")
    codes = {i["code"] for i in patient_entry["interaction"]}
    assert codes >= {"read", "vread", "update", "patch", "delete", "history-instance", "history-type",
                     "create", "search-type"}
    params = {p["name"]: p["type"] for p in patient_entry["searchParam"]}
    assert params["name"] == "string"
    assert params["identifier"] == "token"
    assert params["birthdate"] == "date"
    assert params["general-practitioner"] == "reference"
    assert "validate" in {o["name"] for o in patient_entry["operation"]}


def test_format_and_pretty(client: httpx.Client) -> None:
    pid = _create(client)
    assert client.get(f"/Patient/{pid}", params={"_format": "json"}).status_code == 200
    assert client.get(f"/Patient/{pid}", params={"_format": "application/fhir+json"}).status_code == 200
    xml = client.get(f"/Patient/{pid}", params={"_format": "xml"})
    assert xml.status_code == 406
    assert xml.json()["resourceType"] == "OperationOutcome"
    assert client.get(f"/Patient/{pid}", headers={"Accept": "application/fhir+xml"}).status_code == 406
    compact = client.get(f"/Patient/{pid}")
    assert b"\n" not in compact.content
    pretty = client.get(f"/Patient/{pid}", params={"_pretty": "true"})
    assert b'\n  "resourceType"' in pretty.content
    assert pretty.json() == compact.json()


def test_elements_and_summary_count(client: httpx.Client) -> None:
    pid = _create(client, gender="male", birthDate="1970-01-01")
    _create(client, family="Other")
    subset = client.get(f"/Patient/{pid}", params={"_elements": "gender"}).json()
    assert set(subset) == {"resourceType", "id", "meta", "gender"}
    assert {"system": "http://terminology.hl7.org/CodeSystem/v3-ObservationValue",
            "code": "SUBSETTED"} in subset["meta"]["tag"]
    searched = client.get("/Patient", params={"_elements": "birthDate", "_id": pid}).json()
    assert set(searched["entry"][0]["resource"]) == {"resourceType", "id", "meta", "birthDate"}
    counted = client.get("/Patient", params={"_summary": "count"}).json()
    assert counted["total"] == 2
    assert "entry" not in counted


def test_unknown_type_and_errors_are_outcomes(client: httpx.Client) -> None:
    unknown = client.get("/Patients/1")
    assert unknown.status_code == 404
    assert "not supported" in diagnostics(unknown.json())
    assert client.get("/Patient/x/_history/1/extra").status_code == 404


def test_out_of_range_and_malformed_numbers_are_4xx(client: httpx.Client) -> None:
    pid = _create(client)
    huge = "9" * 20
    for url, status in ((f"/Patient/{pid}/_history/{huge}", 404), (f"/Patient/{pid}/_history/0", 404),
                        (f"/_history?_cursor={huge}", 400), (f"/Patient?_cursor={huge}", 400),
                        (f"/Patient/{pid}/_history?_count={huge}", 200), ("/Patient?_count=-1", 400)):
        assert client.get(url).status_code == status, url
    stale = client.put(f"/Patient/{pid}", json=patient(id=pid), headers={"If-Match": f'W/"{huge}"'})
    assert stale.status_code == 412
    for header in ("If-Match", "If-None-Match", "If-Modified-Since"):
        method = "PUT" if header == "If-Match" else "GET"
        body = patient(id=pid) if method == "PUT" else None
        assert client.request(method, f"/Patient/{pid}", json=body, headers={header: "garbage"}).status_code == 400
    assert client.get(f"/Patient/{pid}").json()["meta"]["versionId"] == "1"
