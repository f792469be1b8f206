"""Hostile and malformed request bodies over HTTP on both engines: each is refused with the right 4xx
and an OperationOutcome, none is a 5xx, and none writes anything (https://hl7.org/fhir/R4/json.html,
https://hl7.org/fhir/R4/http.html#summary)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from .support import count, issue_expressions, patient

FHIR = {"Content-Type": "application/fhir+json"}


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    url: str
    body: bytes
    status: int
    headers: dict[str, str] = field(default_factory=lambda: dict(FHIR))


def _json(value: Any) -> bytes:
    return json.dumps(value).encode()


def _nested(levels: int) -> dict[str, Any]:
    extension: dict[str, Any] = {"url": "urn:leaf", "valueString": "deep"}
    for _ in range(levels):
        extension = {"url": "urn:level", "extension": [extension]}
    return patient(extension=[extension])


def _cases() -> list[Case]:
    ok = _json(patient())
    return [
        Case("broken JSON", "POST", "/Patient", b'{"resourceType": "Patient",', 400),
        Case("not UTF-8", "POST", "/Patient", b'{"resourceType": "Patient", "gender": "\xff\xfe"}', 400),
        Case("empty body", "POST", "/Patient", b"", 400),
        Case("array", "POST", "/Patient", b"[]", 400),
        Case("string", "POST", "/Patient", b'"Patient"', 400),
        Case("number", "PUT", "/Patient/x", b"42", 400),
        Case("JSON null", "POST", "/Patient", b"null", 400),
        Case("wrong resourceType", "POST", "/Patient", _json({"resourceType": "Observation"}), 400),
        Case("no resourceType", "POST", "/Patient", _json({"gender": "male"}), 400),
        Case("unknown type (POST)", "POST", "/Patients", ok, 404),
        Case("unknown type (PUT)", "PUT", "/Spaceship/x", _json({"resourceType": "Spaceship", "id": "x"}), 404),
        Case("unknown type (lower case)", "POST", "/patient", ok, 404),
        Case("id mismatch on PUT", "PUT", "/Patient/a", _json(patient(id="b")), 400),
        Case("missing id on PUT", "PUT", "/Patient/a", ok, 400),
        Case("wrong type on PUT", "PUT", "/Patient/a", _json({"resourceType": "Group", "id": "a"}), 400),
        Case("nested 200 levels", "POST", "/Patient", _json(_nested(200)), 400),
        Case("nested beyond the parser", "POST", "/Patient", b'{"a":' * 5000 + b"1" + b"}" * 5000, 400),
        Case("2 MB string", "POST", "/Patient", _json(patient(x_big="x" * (2 << 20))), 400),
        Case("2 MB element", "POST", "/Patient", _json(patient(gender="m" * (2 << 20))), 400),
        Case("over the body limit", "POST", "/Patient", _json(patient(text="y" * (9 << 20))), 413),
        Case("text/plain", "POST", "/Patient", ok, 415, {"Content-Type": "text/plain"}),
        Case("XML", "POST", "/Patient", b"<Patient xmlns='http://hl7.org/fhir'/>", 415,
             {"Content-Type": "application/fhir+xml"}),
        Case("form", "PUT", "/Patient/a", b"a=b", 415, {"Content-Type": "application/x-www-form-urlencoded"}),
        Case("no Content-Type", "POST", "/Patient", ok, 415, {}),
        Case("null value", "POST", "/Patient", _json(patient(gender=None)), 400),
        Case("null in object", "POST", "/Patient", _json({"resourceType": "Patient", "name": [{"family": None}]}),
             400),
        Case("empty object", "POST", "/Patient", _json(patient(maritalStatus={})), 400),
        Case("empty array", "POST", "/Patient", _json(patient(identifier=[])), 400),
        Case("empty string", "POST", "/Patient", _json(patient(gender="")), 400),
        Case("blank string", "PUT", "/Patient/a", _json(patient(id="a", gender="   ")), 400),
        Case("bundle of nulls", "POST", "", _json({"resourceType": "Bundle", "type": "transaction",
                                                  "entry": [None]}), 400),
        Case("bundle not a bundle", "POST", "", _json(patient()), 400),
        Case("JSON Patch not JSON", "PATCH", "/Patient/a", b"[{", 400,
             {"Content-Type": "application/json-patch+json"}),
        Case("patch as text", "PATCH", "/Patient/a", b"[]", 415, {"Content-Type": "text/plain"}),
    ]


def _send(client: httpx.Client, case: Case) -> httpx.Response:
    url = str(client.base_url).rstrip("/") + case.url
    headers = {"Accept": "application/fhir+json", **case.headers}
    if not case.headers:
        client_headers = dict(client.headers)
        client_headers.pop("content-type", None)
        with httpx.Client(headers=client_headers, timeout=60) as bare:
            return bare.request(case.method, url, content=case.body, headers={"Accept": "application/fhir+json"})
    return client.request(case.method, url, content=case.body, headers=headers)


def test_hostile_bodies_are_refused_and_write_nothing(client: httpx.Client) -> None:
    mismatches = []
    for case in _cases():
        response = _send(client, case)
        if response.status_code != case.status:
            mismatches.append(f"{case.name}: {response.status_code} (expected {case.status}) "
                              f"{response.text[:200]}")
            continue
        outcome = response.json()
        if outcome.get("resourceType") != "OperationOutcome":
            mismatches.append(f"{case.name}: the answer is not an OperationOutcome")
    assert not mismatches, "\n".join(mismatches)
    assert count(client, "Patient") == 0
    assert "entry" not in client.get("/_history").json()


@pytest.mark.parametrize(("element", "value", "status", "expression"), [
    ("birthDate", "2020-13-01", 422, "Patient.birthDate"),
    ("birthDate", "yesterday", 422, "Patient.birthDate"),
    ("favouriteColour", "blue", 422, "Patient.favouriteColour"),
    # a primitive of the wrong JSON type breaks the JSON format itself: 400, still naming the element
    ("active", "yes", 400, "Patient.active"),
    ("multipleBirthInteger", 1.5, 400, "Patient.multipleBirthInteger"),
])
def test_invalid_elements_name_the_element(client: httpx.Client, element: str, value: Any, status: int,
                                           expression: str) -> None:
    for method, url, body in (("POST", "/Patient", patient(**{element: value})),
                              ("PUT", "/Patient/p1", patient(id="p1", **{element: value}))):
        response = client.request(method, url, json=body)
        assert response.status_code == status, response.text
        assert any(e.startswith(expression) for e in issue_expressions(response.json())), response.text
    assert count(client, "Patient") == 0
    assert client.get("/Patient/p1").status_code == 404


def test_nested_invalid_element_path(client: httpx.Client) -> None:
    body = patient(name=[{"family": "Ok"}, {"family": "Ok", "given": ["A"], "period": {"start": "2020-02-30"}}])
    response = client.post("/Patient", json=body)
    assert response.status_code == 422
    assert any(e.startswith("Patient.name[1].period") for e in issue_expressions(response.json())), response.text
    assert count(client, "Patient") == 0


def test_hostile_update_keeps_the_current_version(client: httpx.Client) -> None:
    created = client.post("/Patient", json=patient("Kept")).json()
    pid = created["id"]
    for body in (b"{", _json(patient(id=pid, gender="")), _json(patient(id=pid, birthDate="2020-13-01")),
                 _json(patient(id="other"))):
        response = client.put(f"/Patient/{pid}", content=body)
        assert 400 <= response.status_code < 500
    current = client.get(f"/Patient/{pid}").json()
    assert current == created
    assert len(client.get(f"/Patient/{pid}/_history").json()["entry"]) == 1


def test_streamed_body_over_the_limit_is_413(client: httpx.Client) -> None:
    """Without Content-Length (chunked), the limit is enforced while reading."""
    def chunks() -> Iterator[bytes]:
        yield b'{"resourceType": "Patient", "text": "'
        for _ in range(9):
            yield b"z" * (1 << 20)
        yield b'"}'

    response = client.post("/Patient", content=chunks())
    assert response.status_code == 413
    assert response.json()["resourceType"] == "OperationOutcome"
    assert count(client, "Patient") == 0
