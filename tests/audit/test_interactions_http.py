"""Every interaction over HTTP leaves exactly the expected AuditEvents (valid R4, shaped by BALP), on
both engines: read, vread, search (one event per patient touched), history, create, update, patch,
delete, transaction, $validate, and failures (404, 422) too. Entries hold references only — a search's
parameter names, never its values."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from ehr.audit.rows import AuditRow
from tests.conftest import LiveServer

from .support import Tail, opened_log

Events = list[tuple[AuditRow, dict[str, Any]]]


@pytest.fixture
def tail(server: LiveServer, db_url: str, tmp_path: Path) -> Iterator[Tail]:
    with opened_log(db_url, tmp_path) as log:
        yield Tail(log)


def _one(events: Events) -> tuple[AuditRow, dict[str, Any]]:
    assert len(events) == 1, [(r.interaction, r.patient) for r, _ in events]
    return events[0]


def _subtypes(event: dict[str, Any]) -> list[str]:
    return [c["code"] for c in event["subtype"]]


def _entities(event: dict[str, Any], role: str) -> list[str]:
    return [e["what"]["reference"] for e in event.get("entity", []) if e["role"]["code"] == role]


def _patient(client: httpx.Client, family: str) -> str:
    answer = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]})
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def _observation(client: httpx.Client, pid: str, code: str = "8867-4") -> str:
    body = {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{pid}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]}}
    answer = client.post("/Observation", json=body)
    assert answer.status_code == 201, answer.text
    return str(answer.json()["id"])


def test_writes_and_reads(client: httpx.Client, tail: Tail) -> None:
    pid = _patient(client, "Audited")
    row, event = _one(tail.new())
    assert (row.interaction, row.action, row.status, row.outcome) == ("create", "C", 201, "0")
    assert row.patient == f"Patient/{pid}"
    assert row.resources == (f"Patient/{pid}",)
    assert _entities(event, "1") == [f"Patient/{pid}"]
    assert event["type"]["code"] == "rest"
    assert _subtypes(event) == ["create"]

    oid = _observation(client, pid)
    row, event = _one(tail.new())
    assert (row.patient, row.resources) == (f"Patient/{pid}", (f"Observation/{oid}",))
    assert _entities(event, "4") == [f"Observation/{oid}"]

    assert client.get(f"/Observation/{oid}").status_code == 200
    row, event = _one(tail.new())
    assert (row.interaction, row.action, row.patient) == ("read", "R", f"Patient/{pid}")

    assert client.get(f"/Observation/{oid}/_history/1").status_code == 200
    row, _ = _one(tail.new())
    assert (row.interaction, row.action, row.patient) == ("vread", "R", f"Patient/{pid}")

    assert client.get(f"/Observation/{oid}/_history").status_code == 200
    row, _ = _one(tail.new())
    assert (row.interaction, row.action, row.patient) == ("history-instance", "R", f"Patient/{pid}")

    observation = client.get(f"/Observation/{oid}").json()
    tail.new()
    observation["status"] = "amended"
    assert client.put(f"/Observation/{oid}", json=observation).status_code == 200
    row, _ = _one(tail.new())
    assert (row.interaction, row.action, row.status, row.patient) == ("update", "U", 200, f"Patient/{pid}")

    assert client.put("/Patient/chosen-id", json={"resourceType": "Patient", "id": "chosen-id"}).status_code == 201
    row, _ = _one(tail.new())
    assert (row.interaction, row.action, row.patient) == ("update", "C", "Patient/chosen-id")

    patch = [{"op": "replace", "path": "/status", "value": "corrected"}]
    answer = client.patch(f"/Observation/{oid}", json=patch, headers={"Content-Type": "application/json-patch+json"})
    assert answer.status_code == 200, answer.text
    row, event = _one(tail.new())
    assert (row.interaction, row.action, row.patient) == ("patch", "U", f"Patient/{pid}")
    assert _subtypes(event) == ["patch"]

    assert client.delete(f"/Observation/{oid}").status_code == 204
    row, _ = _one(tail.new())
    assert (row.interaction, row.action, row.patient, row.resources) == (
        "delete", "D", f"Patient/{pid}", (f"Observation/{oid}",))


def test_search_gives_one_event_per_patient(client: httpx.Client, tail: Tail) -> None:
    first, second = _patient(client, "One"), _patient(client, "Two")
    # a code that cannot occur in a generated id or any other stored part of an entry
    o1, o2, o3 = (_observation(client, pid, "Q-search-value") for pid in (first, second, first))
    tail.new()
    answer = client.get("/Observation", params={"code": "http://loinc.org|Q-search-value", "_count": "10"})
    assert answer.status_code == 200
    events = tail.new()
    assert len(events) == 2
    by_patient = {row.patient: (row, event) for row, event in events}
    assert set(by_patient) == {f"Patient/{first}", f"Patient/{second}"}
    assert set(by_patient[f"Patient/{first}"][0].resources) == {f"Observation/{o1}", f"Observation/{o3}"}
    assert by_patient[f"Patient/{second}"][0].resources == (f"Observation/{o2}",)
    for row, event in events:
        assert (row.interaction, row.action) == ("search-type", "E")
        query = [e for e in event["entity"] if e["role"]["code"] == "24"]
        assert query[0]["detail"] == [{"type": "parameters", "valueString": "code,_count"}]
    entries = b"".join(entry for _, entry, _ in tail.log.chain_rows())
    assert b"Q-search-value" not in entries  # the search value is never stored

    assert client.get("/Observation", params={"code": "http://loinc.org|none"}).status_code == 200
    row, event = _one(tail.new())
    assert (row.patient, row.resources) == (None, ())


def test_transaction_and_operation(client: httpx.Client, tail: Tail) -> None:
    entries = []
    for n in range(2):
        urn = f"urn:uuid:00000000-0000-0000-0000-00000000000{n}"
        entries += [
            {"fullUrl": urn, "resource": {"resourceType": "Patient", "name": [{"family": f"T{n}"}]},
             "request": {"method": "POST", "url": "Patient"}},
            {"resource": {"resourceType": "Observation", "status": "final", "code": {"text": "x"},
                          "subject": {"reference": urn}}, "request": {"method": "POST", "url": "Observation"}},
        ]
    answer = client.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert answer.status_code == 200, answer.text
    events = tail.new()
    assert len(events) == 2
    assert {row.interaction for row, _ in events} == {"transaction"}
    assert {len(row.resources) for row, _ in events} == {2}

    answer = client.post("/Patient/$validate", json={"resourceType": "Patient"})
    assert answer.status_code == 200, answer.text
    row, event = _one(tail.new())
    assert row.interaction == "operation:validate"
    assert _subtypes(event) == ["operation", "$validate"]
    assert row.patient is None


def test_failures_are_audited(client: httpx.Client, tail: Tail) -> None:
    assert client.get("/Observation/nope").status_code == 404
    row, event = _one(tail.new())
    assert (row.interaction, row.status, row.outcome, row.resources, row.patient) == (
        "read", 404, "4", ("Observation/nope",), None)
    assert event["outcomeDesc"] == "HTTP 404"

    assert client.get("/Patient/missing").status_code == 404
    row, _ = _one(tail.new())
    assert row.patient == "Patient/missing"

    bad = {"resourceType": "Patient", "birthDate": "not-a-date", "name": [{"family": "Secret-Name"}]}
    assert client.post("/Patient", json=bad).status_code == 422
    row, event = _one(tail.new())
    assert (row.interaction, row.status, row.outcome) == ("create", 422, "4")
    assert b"Secret-Name" not in b"".join(entry for _, entry, _ in tail.log.chain_rows())


def test_requests_refused_before_any_interaction_are_audited(client: httpx.Client, tail: Tail) -> None:
    refusals: list[tuple[Callable[[], httpx.Response], int, str]] = [
        (lambda: client.get("/NotAType/1"), 404, "read"),  # unknown resource type
        (lambda: client.get("/Patient/1/not-an-endpoint"), 404, "read"),
        (lambda: client.post("/Patient", content=b"name=Secret", headers={"Content-Type": "text/plain"}), 415,
         "create"),
        (lambda: client.get("/Patient/1", headers={"Accept": "application/xml"}), 406, "read"),
        (lambda: client.get("/Patient", headers={"X-Tenant": "not a code!"}), 400, "read"),
    ]
    for send, status, interaction in refusals:
        answer = send()
        assert answer.status_code == status, answer.text
        row, event = _one(tail.new())
        assert (row.interaction, row.status, row.outcome) == (interaction, status, "4")
        assert event["outcomeDesc"] == f"HTTP {status}"
    assert b"Secret" not in b"".join(entry for _, entry, _ in tail.log.chain_rows())


def test_caller_purpose_and_break_glass(client: httpx.Client, tail: Tail) -> None:
    pid = _patient(client, "Emergency")
    tail.new()
    headers = {"X-User": "dr-who", "X-Roles": "clinician,er", "X-Purpose-Of-Use": "ETREAT",
               "X-Break-Glass": "unconscious patient", "X-Tenant": "hospital-b"}
    assert client.get(f"/Patient/{pid}", headers=headers).status_code == 200
    row, event = _one(tail.new())
    assert (row.agent, row.roles, row.purpose, row.break_glass, row.tenant) == (
        "dr-who", ("clinician", "er"), "ETREAT", True, "hospital-b")
    assert row.patient_tenant == "default"
    purposes = [c["code"] for p in event["purposeOfEvent"] for c in p["coding"]]
    assert purposes == ["ETREAT", "BTG"]
    user = event["agent"][0]
    assert user["who"]["identifier"]["value"] == "dr-who"
    assert user["requestor"] is True
    assert event["source"]["site"] == "hospital-b"
    assert b"unconscious" not in b"".join(entry for _, entry, _ in tail.log.chain_rows())

    answer = client.get(f"/Patient/{pid}", headers={"X-Purpose-Of-Use": "treat me please"})
    assert answer.status_code == 400
