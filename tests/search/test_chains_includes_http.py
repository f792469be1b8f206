"""Chained parameters, ``_has``, ``_include`` and ``_revinclude`` over HTTP on both engines
(https://hl7.org/fhir/R4/search.html#chaining, #has, #include), checked against hand-worked answers
and against the in-memory engine run on the same records."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from ehr.fhir.interactions.context import Context, Services
from ehr.fhir.interactions.delete import delete
from ehr.fhir.interactions.search import search

from .memory_engine import load_memory

LOINC = "http://loinc.org"


def _obs(oid: str, patient: str, code: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]}, "subject": {"reference": f"Patient/{patient}"},
            **extra}


RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Organization", "id": "org", "name": "General Hospital"},
    {"resourceType": "Practitioner", "id": "dr", "name": [{"family": "Who"}]},
    {"resourceType": "Patient", "id": "p1", "name": [{"family": "Smith", "given": ["John"]}],
     "managingOrganization": {"reference": "Organization/org"},
     "generalPractitioner": [{"reference": "Practitioner/dr"}]},
    {"resourceType": "Patient", "id": "p2", "name": [{"family": "Jones", "given": ["Mary"]}]},
    {"resourceType": "Patient", "id": "p3", "name": [{"family": "Gone"}]},
    _obs("o1", "p1", "8867-4", performer=[{"reference": "Practitioner/dr"}]),
    _obs("o2", "p2", "8867-4"),
    _obs("o3", "p1", "1234-5"),
    _obs("o4", "p3", "8867-4"),
    {"resourceType": "Encounter", "id": "e1", "status": "finished",
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"},
     "subject": {"reference": "Patient/p2"}},
    {"resourceType": "Provenance", "id": "prov1", "target": [{"reference": "Observation/o1"}],
     "recorded": "2024-01-01T00:00:00Z", "agent": [{"who": {"reference": "Practitioner/dr"}}]},
]

CASES: list[tuple[str, list[tuple[str, str]], set[str], set[str]]] = [
    # (type, params, matches, included)
    ("Observation", [("subject:Patient.name", "smith")], {"o1", "o3"}, set()),
    ("Observation", [("subject.name", "jones")], {"o2"}, set()),
    ("Observation", [("subject:Patient.organization.name", "general")], {"o1", "o3"}, set()),
    ("Observation", [("subject:Patient.name", "gone")], set(), set()),  # p3 is deleted
    ("Observation", [("subject:Patient.name", "smith"), ("code", "1234-5")], {"o3"}, set()),
    ("Patient", [("_has:Observation:patient:code", "1234-5")], {"p1"}, set()),
    ("Patient", [("_has:Observation:subject:code", "8867-4")], {"p1", "p2"}, set()),
    ("Patient", [("_has:Observation:patient:_has:Provenance:target:agent", "Practitioner/dr")], {"p1"}, set()),
    ("Patient", [("_has:Encounter:subject:status", "finished"), ("name", "jones")], {"p2"}, set()),
    ("Practitioner", [("_has:Observation:performer:subject:Patient.name", "smith")], {"dr"}, set()),
    ("Observation", [("code", "8867-4"), ("_include", "Observation:subject")], {"o1", "o2", "o4"},
     {"p1", "p2"}),  # o4's patient is deleted, so not included
    ("Observation", [("code", "8867-4"), ("_include", "Observation:performer:Practitioner")],
     {"o1", "o2", "o4"}, {"dr"}),
    ("Observation", [("code", "1234-5"), ("_include", "Observation:subject"),
                     ("_include:iterate", "Patient:organization")], {"o3"}, {"p1", "org"}),
    ("Observation", [("code", "8867-4"), ("_revinclude", "Provenance:target")], {"o1", "o2", "o4"},
     {"prov1"}),
    ("Observation", [("_id", "o1"), ("_include", "*")], {"o1"}, {"p1", "dr"}),
    ("Patient", [("_id", "p2"), ("_revinclude", "Observation:subject"), ("_revinclude", "Encounter:subject")],
     {"p2"}, {"o2", "e1"}),
    ("Patient", [("_id", "p1"), ("_revinclude", "Observation:subject"),
                 ("_include:iterate", "Observation:performer")], {"p1"}, {"o1", "o3", "dr"}),
]


def _transaction() -> dict[str, Any]:
    entries = [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
               for r in RESOURCES]
    entries.append({"request": {"method": "DELETE", "url": "Patient/p3"}})
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


@pytest.fixture
def loaded(client: httpx.Client) -> httpx.Client:
    response = client.post("", json={"resourceType": "Bundle", "type": "transaction",
                                     "entry": _transaction()["entry"][:-1]})
    assert response.status_code == 200, response.text
    assert client.delete("Patient/p3").status_code in (200, 204)
    return client


@pytest.fixture(scope="module")
def memory() -> tuple[Services, Context]:
    services, ctx = load_memory(_transaction()["entry"][:-1])
    with services.store.unit_of_work(write=True) as tx:
        delete(ctx, tx, "Patient", "p3")
    return services, ctx


def _split(bundle: dict[str, Any]) -> tuple[set[str], set[str]]:
    mode: dict[str, set[str]] = {"match": set(), "include": set()}
    for entry in bundle.get("entry", []):
        mode[entry["search"]["mode"]].add(entry["resource"]["id"])
    return mode["match"], mode["include"]


@pytest.mark.parametrize(("resource_type", "params", "matched", "included"), CASES,
                         ids=["&".join(f"{k}={v}" for k, v in c[1]) for c in CASES])
def test_search_over_http_matches_the_worked_answer(loaded: httpx.Client, resource_type: str,
                                                    params: list[tuple[str, str]], matched: set[str],
                                                    included: set[str]) -> None:
    response = loaded.get(resource_type, params=tuple(params))
    assert response.status_code == 200, response.text
    assert _split(response.json()) == (matched, included)
    self_link = response.json()["link"][0]["url"]
    for name, _ in params:
        assert name in httpx.URL(self_link).params


@pytest.mark.parametrize(("resource_type", "params", "matched", "included"), CASES,
                         ids=["&".join(f"{k}={v}" for k, v in c[1]) for c in CASES])
def test_the_in_memory_engine_gives_the_same_answer(memory: tuple[Services, Context], resource_type: str,
                                                    params: list[tuple[str, str]], matched: set[str],
                                                    included: set[str]) -> None:
    services, ctx = memory
    with services.store.unit_of_work(write=False) as tx:
        result = search(ctx, services, tx, resource_type, params)
    assert isinstance(result.body, dict)
    assert _split(orjson.loads(orjson.dumps(result.body))) == (matched, included)


@pytest.mark.parametrize(("resource_type", "name", "value", "says"), [
    ("Observation", "code.name", "x", "not a reference search parameter"),
    ("Observation", "subject:Medication.code", "x", "cannot point at a Medication"),
    ("Observation", "subject.nosuch", "x", "has a search parameter 'nosuch'"),
    ("Patient", "_has:Observation:code:status", "final", "not a reference search parameter of Observation"),
    ("Patient", "_has:Nothing:patient:code", "x", "not a resource type"),
    ("Patient", "_has:Observation:patient", "x", "_has:[Type]:[reference parameter]:[parameter]"),
    ("Patient", "a.b.c.d.e.f.g", "x", "not a reference search parameter"),
    ("Observation", "_include", "Patient:organization", "use _include:iterate"),
    ("Observation", "_include", "Observation:code", "not a reference search parameter of Observation"),
    ("Observation", "_revinclude", "Provenance:target:Patient:x", "must be [Type]:[parameter]"),
    ("Observation", "_include:deep", "Observation:subject", "only modifier"),
])
def test_bad_chains_and_includes_are_400_naming_the_parameter(loaded: httpx.Client, resource_type: str, name: str,
                                                              value: str, says: str) -> None:
    response = loaded.get(resource_type, params={name: value})
    assert response.status_code == 400
    outcome = response.json()
    assert says in outcome["issue"][0]["diagnostics"]
    lenient = loaded.get(resource_type, params={name: value}, headers={"Prefer": "handling=lenient"})
    assert lenient.status_code == 200
    assert name not in httpx.URL(lenient.json()["link"][0]["url"]).params


def test_chains_deeper_than_the_limit_are_refused(loaded: httpx.Client) -> None:
    deep = "subject:Patient.organization" + ".partof" * 4 + ".name"
    response = loaded.get("Observation", params={deep: "x"})
    assert response.status_code == 400
    assert "levels" in response.json()["issue"][0]["diagnostics"]
