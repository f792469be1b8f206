"""``Patient/$match`` over HTTP (https://hl7.org/fhir/R4/patient-operation-match.html): grades,
scores, explanations, ``onlyCertainMatches`` and ``count``."""

from __future__ import annotations

from typing import Any

import httpx

from ehr.fhir.operations.match import EXPLANATION, MATCH_GRADE

from .helpers import create, parameters, person


def _match(client: httpx.Client, resource: dict[str, Any], **extra: Any) -> dict[str, Any]:
    response = client.post("/Patient/$match", json=parameters(resource=resource, **extra))
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    assert body["type"] == "searchset"
    return body


def _grade(entry: dict[str, Any]) -> str:
    return str(next(e["valueCode"] for e in entry["search"]["extension"] if e["url"] == MATCH_GRADE))


def test_match_grades_scores_and_explains(mpi: httpx.Client) -> None:
    same = create(mpi, person("Garcia", given="Luis", birth="1971-09-09"))
    typo = create(mpi, person("Gracia", given="Luis", birth="1971-09-09"), "hospital-b")
    born = create(mpi, person("Other", given="Max", birth="1971-09-09"), "hospital-c")
    create(mpi, person("Far", given="Zed", birth="2001-01-01"))
    body = _match(mpi, person("Garcia", given="Luis", birth="1971-09-09"))
    entries = body["entry"]
    assert [e["resource"]["id"] for e in entries] == [same["id"], typo["id"], born["id"]]
    assert [_grade(e) for e in entries] == ["certain", "probable", "possible"]
    scores = [e["search"]["score"] for e in entries]
    assert scores == sorted(scores, reverse=True)
    assert all(0 <= s <= 1 for s in scores)
    assert {e["search"]["mode"] for e in entries} == {"match"}
    assert body["total"] == 3
    parts = [e for e in entries[1]["search"]["extension"] if e["url"] == EXPLANATION]
    fields = {p["extension"][0]["valueString"]: (p["extension"][1]["valueString"], p["extension"][2]["valueDecimal"])
              for p in parts}
    assert fields == {"family": ("typo", 3.0), "given": ("exact", 4.0), "birthDate": ("exact", 6.0)}
    # the golden records are never matched
    assert all("GOLDEN_RECORD" not in str(e["resource"].get("meta")) for e in entries)


def test_only_certain_matches_and_count(mpi: httpx.Client) -> None:
    create(mpi, person("Garcia", given="Luis", birth="1971-09-09"))
    create(mpi, person("Gracia", given="Luis", birth="1971-09-09"), "hospital-b")
    query = person("Garcia", given="Luis", birth="1971-09-09")
    certain = _match(mpi, query, onlyCertainMatches=True)
    assert [_grade(e) for e in certain["entry"]] == ["certain"]
    assert len(_match(mpi, query, count=1)["entry"]) == 1
    # a second certain record makes the certain match ambiguous: none is returned
    create(mpi, person("Garcia", given="Luis", birth="1971-09-09"), "hospital-c")
    assert "entry" not in _match(mpi, query, onlyCertainMatches=True)
    assert len(_match(mpi, query)["entry"]) == 3


def test_match_rejects_bad_input(mpi: httpx.Client) -> None:
    assert mpi.post("/Patient/$match", json=parameters(count=3)).status_code == 400
    bad_count = mpi.post("/Patient/$match", json=parameters(resource=person("X"), count=0))
    assert bad_count.status_code == 400
    not_patient = parameters(resource={"resourceType": "Observation", "status": "final", "code": {"text": "x"}})
    assert mpi.post("/Patient/$match", json=not_patient).status_code == 400
    assert mpi.post("/Patient/$match", json=person("X")).status_code == 400


def test_operations_are_in_the_capability_statement(mpi: httpx.Client) -> None:
    statement = mpi.get("/metadata").json()
    patient = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Patient")
    names = {o["name"] for o in patient["operation"]}
    assert {"match", "everything", "mdm-link", "mdm-unlink", "mdm-merge", "mdm-undo"} <= names
    task = next(r for r in statement["rest"][0]["resource"] if r["type"] == "Task")
    assert "mdm-resolve" in {o["name"] for o in task["operation"]}


def test_without_a_matcher_match_is_unavailable(client: httpx.Client) -> None:
    response = client.post("/Patient/$match", json=parameters(resource=person("X")))
    assert response.status_code == 503
    assert response.json()["resourceType"] == "OperationOutcome"
