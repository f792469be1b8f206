"""Blind-indexed search over HTTP on both SQL engines, and the in-memory engine giving the same answers:
normalised prefix and :exact on names and addresses, tokens on identifiers and telecom, birth dates at
year, month and day precision; what a blind index cannot answer is a 400 naming the parameter."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ehr.api.app import build_services
from ehr.auth.boundary import Principal
from ehr.crypto.blind import BlindIndexKey
from ehr.fhir.interactions import create, search
from ehr.fhir.interactions.context import Context, Services
from ehr.settings import Settings
from ehr.store.memory import MemoryStore
from tests.conftest import LiveServer
from tests.fhir.support import diagnostics, issue_expressions

HEADERS = {"Content-Type": "application/fhir+json", "X-Tenant": "hospital-b"}
PEOPLE: list[dict[str, Any]] = [
    {"resourceType": "Patient", "name": [{"family": "Ñúñez", "given": ["María", "José"]}],
     "identifier": [{"system": "urn:mrn", "value": "A-100"}],
     "telecom": [{"system": "phone", "value": "+1-555-0100"}, {"system": "email", "value": "maria@example.org"}],
     "birthDate": "1970-03-15",
     "address": [{"line": ["12 Elm Street"], "city": "Springfield", "postalCode": "01101"}]},
    {"resourceType": "Patient", "name": [{"family": "Nunes", "given": ["Mario"]}],
     "identifier": [{"system": "urn:mrn", "value": "B-200"}, {"system": "urn:other", "value": "A-100"}],
     "telecom": [{"system": "phone", "value": "+1-555-0200"}], "birthDate": "1970-04",
     "address": [{"city": "Shelbyville"}]},
    {"resourceType": "Patient", "name": [{"family": "Smith"}], "birthDate": "1985"},
    {"resourceType": "Practitioner", "name": [{"family": "Smith"}]},
]
#: (resource type, query, families expected)
SEARCHES: list[tuple[str, str, set[str]]] = [
    ("Patient", "family=nun", {"Ñúñez", "Nunes"}),
    ("Patient", "family=NUÑEZ", {"Ñúñez"}),
    ("Patient", "family:exact=Ñúñez", {"Ñúñez"}),
    ("Patient", "family:exact=ñúñez", set()),
    ("Patient", "name=mari", {"Ñúñez", "Nunes"}),
    ("Patient", "given=jos", {"Ñúñez"}),
    ("Patient", "given=jose,mario", {"Ñúñez", "Nunes"}),
    ("Patient", "family=nu&given=mario", {"Nunes"}),
    ("Patient", "identifier=urn:mrn|A-100", {"Ñúñez"}),
    ("Patient", "identifier=A-100", {"Ñúñez", "Nunes"}),
    ("Patient", "identifier=urn:other|", {"Nunes"}),
    ("Patient", "identifier=|A-100", set()),
    ("Patient", "identifier:not=urn:mrn|A-100", {"Nunes", "Smith"}),
    ("Patient", "phone=+1-555-0100", {"Ñúñez"}),
    ("Patient", "telecom=phone|+1-555-0200", {"Nunes"}),
    ("Patient", "email=maria@example.org", {"Ñúñez"}),
    ("Patient", "birthdate=1970", {"Ñúñez", "Nunes"}),
    ("Patient", "birthdate=1970-03", {"Ñúñez"}),
    ("Patient", "birthdate=eq1970-03-15", {"Ñúñez"}),
    ("Patient", "birthdate=1970-04-01", set()),
    ("Patient", "birthdate:missing=true", set()),
    ("Patient", "address-city=spring", {"Ñúñez"}),
    ("Patient", "address=12 elm", {"Ñúñez"}),
    ("Patient", "address=shelby", {"Nunes"}),
    ("Patient", "address-postalcode=011", {"Ñúñez"}),
    ("Patient", "address:missing=true", {"Smith"}),
    ("Patient", "family=smith", {"Smith"}),
    ("Practitioner", "family=smi", {"Smith"}),
]
REFUSED = [
    ("family:contains=un", "family:contains"),
    ("address:contains=elm", "address:contains"),
    ("birthdate=ge1970", "birthdate"),
    ("birthdate=1970-03-15T10:00:00Z", "birthdate"),
    ("identifier:text=mrn", "identifier:text"),
]


def _families(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["name"][0]["family"] for e in bundle.get("entry", [])}


def _pairs(query: str) -> list[tuple[str, str]]:
    return [(name, value) for name, _, value in (part.partition("=") for part in query.split("&"))]


def _memory_results() -> dict[str, set[str]]:
    services: Services = build_services(MemoryStore(), blind_key=BlindIndexKey(bytes(range(32))))
    ctx = Context(base_url="http://test/fhir", principal=Principal(tenant="hospital-b"))
    with services.store.unit_of_work(write=True) as tx:
        for person in PEOPLE:
            create.create(ctx, services, tx, person["resourceType"], copy.deepcopy(person))
    out = {}
    with services.store.unit_of_work(write=False) as tx:
        for resource_type, query, _ in SEARCHES:
            result = search.search(ctx, services, tx, resource_type, _pairs(query))
            out[query] = _families(orjson.loads(orjson.dumps(result.body)))
    return out


def test_blind_searches_on_both_engines_agree(db_url: str, tmp_path: Path) -> None:
    memory = _memory_results()
    # compared with an engine without golden records
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path, mpi=False)
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=HEADERS, timeout=60) as http:
        for person in PEOPLE:
            assert http.post(f"/{person['resourceType']}", json=person).status_code == 201
        for resource_type, query, expected in SEARCHES:
            response = http.get(f"/{resource_type}", params=httpx.QueryParams(tuple(_pairs(query))))
            assert response.status_code == 200, (query, response.text)
            assert _families(response.json()) == expected, query
            assert memory[query] == expected, query


@pytest.mark.parametrize(("query", "named"), REFUSED)
def test_what_a_blind_index_cannot_answer_is_refused(client: httpx.Client, query: str, named: str) -> None:
    response = client.get("/Patient", params=httpx.QueryParams(tuple(_pairs(query))))
    assert response.status_code == 400, response.text
    outcome = response.json()
    assert issue_expressions(outcome) == [named]
    assert "blind index" in diagnostics(outcome)
    assert outcome["issue"][0]["code"] == "not-supported"


def test_parameters_that_are_not_identifying_keep_every_modifier(client: httpx.Client) -> None:
    client.post("/Organization", json={"resourceType": "Organization", "name": "General Hospital"})
    found = client.get("/Organization?name:contains=hosp").json()
    assert [e["resource"]["name"] for e in found["entry"]] == ["General Hospital"]
