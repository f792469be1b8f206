"""``GET /fhir/AuditEvent`` for data officers over HTTP on both engines: each filter (patient, agent,
action, outcome, date with prefixes), paging with next links, tenant scoping; everyone else gets 403
(and the refusal is audited); every write to AuditEvent is refused with 405, alone or in a Bundle."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import LiveServer

from .support import OFFICER, Tail, opened_log


@pytest.fixture
def tail(server: LiveServer, db_url: str, tmp_path: Path) -> Iterator[Tail]:
    with opened_log(db_url, tmp_path) as log:
        yield Tail(log)


def _search(client: httpx.Client, **params: str | list[str]) -> list[dict[str, Any]]:
    """Every AuditEvent matching ``params``, following next links."""
    found: list[dict[str, Any]] = []
    url: str | None = "/AuditEvent"
    query: dict[str, str | list[str]] | None = params
    while url is not None:
        page = client.get(url, params=query, headers=OFFICER)
        assert page.status_code == 200, page.text
        body = page.json()
        found += [e["resource"] for e in body.get("entry", [])]
        url = next((link["url"] for link in body["link"] if link["relation"] == "next"), None)
        query = None
    return found


def _seed(client: httpx.Client) -> tuple[str, str]:
    ids = []
    for user, family in (("dr-a", "Alpha"), ("dr-b", "Beta")):
        answer = client.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}]},
                             headers={"X-User": user})
        assert answer.status_code == 201
        ids.append(str(answer.json()["id"]))
        assert client.get(f"/Patient/{ids[-1]}", headers={"X-User": user}).status_code == 200
    assert client.get("/Patient/unknown", headers={"X-User": "dr-a"}).status_code == 404
    return ids[0], ids[1]


def _patients(events: list[dict[str, Any]]) -> set[str]:
    return {e["what"]["reference"] for ev in events for e in ev.get("entity", []) if e["role"]["code"] == "1"}


def test_officer_filters(client: httpx.Client, tail: Tail) -> None:
    alpha, beta = _seed(client)
    by_alpha = _search(client, patient=f"Patient/{alpha}")
    assert len(by_alpha) == 2
    assert _patients(by_alpha) == {f"Patient/{alpha}"}
    assert _patients(_search(client, patient=beta)) == {f"Patient/{beta}"}

    by_a = _search(client, agent="dr-a")
    assert {e["agent"][0]["who"]["identifier"]["value"] for e in by_a} == {"dr-a"}
    assert len(by_a) == 3
    assert len(_search(client, agent="urn:ehr:subject|dr-b")) == 2

    creates = _search(client, action="C")
    assert len(creates) == 2
    assert {e["action"] for e in creates} == {"C"}
    assert {e["action"] for e in _search(client, action="R,C")} == {"R", "C"}

    failures = _search(client, outcome="4")
    assert [e["outcomeDesc"] for e in failures] == ["HTTP 404"]
    assert len(_search(client, agent="dr-a", outcome="0")) == 2


def test_date_prefixes_and_paging(client: httpx.Client, tail: Tail) -> None:
    _seed(client)
    doctors = {"agent": "dr-a,dr-b"}  # the officer's own searches are audited too: leave them out
    everything = _search(client, **doctors)
    assert len(everything) == 5
    recorded = sorted(e["recorded"] for e in everything)
    middle = recorded[2]
    for prefix, keep in (("gt", middle.__lt__), ("le", middle.__ge__), ("ge", middle.__le__),
                         ("lt", middle.__gt__), ("", middle.__eq__), ("eq", middle.__eq__)):
        found = sorted(e["recorded"] for e in _search(client, date=f"{prefix}{middle}", **doctors))
        assert found == [r for r in recorded if keep(r)], prefix
    two_sided = _search(client, date=[f"ge{recorded[1]}", f"lt{recorded[3]}"], **doctors)
    assert sorted(e["recorded"] for e in two_sided) == recorded[1:3]
    assert _search(client, date="lt2000-01-01") == []

    paged = _search(client, _count="2", **doctors)
    ids = [int(e["id"]) for e in paged]
    assert ids == sorted(ids, reverse=True)  # newest first
    assert sorted(ids) == sorted(int(e["id"]) for e in everything)

    answer = client.get("/AuditEvent", params={"date": "sa2020"}, headers=OFFICER)
    assert answer.status_code == 400
    assert client.get("/AuditEvent", params={"name": "x"}, headers=OFFICER).status_code == 400
    assert client.get(f"/AuditEvent/{ids[0]}", headers=OFFICER).json()["id"] == str(ids[0])


def test_officers_see_their_hospital_only(client: httpx.Client, tail: Tail) -> None:
    answer = client.post("/Patient", json={"resourceType": "Patient"}, headers={"X-Tenant": "hospital-b"})
    assert answer.status_code == 201
    assert _search(client) == []  # the officer of "default" sees nothing of hospital-b
    theirs = client.get("/AuditEvent", headers={**OFFICER, "X-Tenant": "hospital-b"}).json()
    assert len(theirs["entry"]) == 1


def test_only_officers_may_search_and_refusals_are_audited(client: httpx.Client, tail: Tail) -> None:
    for headers in ({}, {"X-Roles": "clinician"}):
        answer = client.get("/AuditEvent", headers=headers)
        assert answer.status_code == 403
        assert answer.json()["issue"][0]["code"] == "forbidden"
        [(row, _)] = tail.new()
        assert (row.interaction, row.status, row.denied, row.outcome) == ("search-type", 403, True, "4")
    assert client.get("/AuditEvent/1", headers={"X-Roles": "clinician"}).status_code == 403
    assert client.get("/AuditEvent", headers=OFFICER).status_code == 200
    [(row, _)] = tail.new()[-1:]
    assert (row.interaction, row.agent, row.roles) == ("search-type", "officer-1", ("data-officer",))


def test_writes_to_audit_events_are_refused(client: httpx.Client, tail: Tail) -> None:
    event = {"resourceType": "AuditEvent", "type": {"code": "rest"}, "recorded": "2026-01-01T00:00:00Z",
             "agent": [{"requestor": True}], "source": {"observer": {"display": "x"}}}
    attempts = [client.post("/AuditEvent", json=event, headers=OFFICER),
                client.put("/AuditEvent/1", json={**event, "id": "1"}, headers=OFFICER),
                client.put("/AuditEvent", params={"_id": "1"}, json=event),
                client.delete("/AuditEvent/1", headers=OFFICER),
                client.delete("/AuditEvent", params={"_id": "1"}),
                client.patch("/AuditEvent/1", json=[], headers={"Content-Type": "application/json-patch+json"})]
    for answer in attempts:
        assert answer.status_code == 405, answer.text
        assert answer.json()["resourceType"] == "OperationOutcome"
    assert [row.status for row, _ in tail.new()] == [405] * len(attempts)

    entry = {"resource": event, "request": {"method": "POST", "url": "AuditEvent"}}
    answer = client.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": [entry]})
    assert answer.status_code == 405
    assert "Bundle.entry[0]" in answer.text
    delete = {"request": {"method": "DELETE", "url": "AuditEvent/1"}}
    answer = client.post("", json={"resourceType": "Bundle", "type": "batch", "entry": [entry, delete]})
    assert answer.status_code == 200
    assert [e["response"]["status"] for e in answer.json()["entry"]] == ["405", "405"]


def test_audit_off_records_nothing(db_url: str, tmp_path: Path) -> None:
    """``Settings.audit = False`` (for the overhead benchmark): nothing is recorded, and the log
    cannot be searched."""
    from ehr.settings import Settings

    with LiveServer(Settings(auth="dev", db_url=db_url, data_dir=tmp_path, audit=False)) as live, \
            httpx.Client(base_url=live.base) as http:
        assert http.post("/Patient", json={"resourceType": "Patient"}).status_code == 201
        assert http.get("/Patient").status_code == 200
        assert http.get("/AuditEvent", headers=OFFICER).status_code == 503
    with opened_log(db_url, tmp_path) as log:
        assert list(log.rows()) == []
