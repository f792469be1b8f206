"""Composite parameters, the modifiers ``:of-type :identifier :[type] :above :below :in :not-in :missing
:text`` and compartment search over HTTP on both engines (https://hl7.org/fhir/R4/search.html#composite,
#modifiers, https://hl7.org/fhir/R4/http.html#vsearch), checked against hand-worked answers and against
the in-memory engine run on the same records. ``:text`` on a reference is R5's
(https://hl7.org/fhir/R5/search.html#modifiers): the string search on Reference.display."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.search import compartment_search, search

from .memory_engine import load_memory

LOINC = "http://loinc.org"
UCUM = "http://unitsofmeasure.org"
V2 = "http://terminology.hl7.org/CodeSystem/v2-0203"
FINDINGS = "http://example.org/fhir/CodeSystem/findings"
VS = "http://example.org/fhir/ValueSet"


def _obs(oid: str, subject: dict[str, Any], code: tuple[str, str], **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": oid, "status": "final",
            "code": {"coding": [{"system": code[0], "code": code[1]}]}, "subject": subject, **extra}


def _qty(value: float, code: str) -> dict[str, Any]:
    return {"value": value, "unit": code, "system": UCUM, "code": code}


def _bp(oid: str, patient: str, systolic: float, diastolic: float) -> dict[str, Any]:
    return _obs(oid, {"reference": f"Patient/{patient}"}, (LOINC, "85354-9"), component=[
        {"code": {"coding": [{"system": LOINC, "code": "8480-6"}]}, "valueQuantity": _qty(systolic, "mm[Hg]")},
        {"code": {"coding": [{"system": LOINC, "code": "8462-4"}]}, "valueQuantity": _qty(diastolic, "mm[Hg]")},
    ])


def _mrn(system: str, value: str, kind: str) -> dict[str, Any]:
    return {"system": system, "value": value, "type": {"coding": [{"system": V2, "code": kind}]}}


RESOURCES: list[dict[str, Any]] = [
    {"resourceType": "Patient", "id": "p1", "identifier": [_mrn("urn:mrn", "111", "MR"), _mrn("urn:ssn", "222", "SS")]},
    {"resourceType": "Patient", "id": "p2", "identifier": [_mrn("urn:mrn", "333", "MR")]},
    {"resourceType": "Group", "id": "g1", "type": "person", "actual": True},
    _bp("bp1", "p1", 150, 90),
    _bp("bp2", "p2", 110, 150),  # 150 too, but diastolic: never a match for a systolic criterion
    _obs("weight", {"reference": "Patient/p1"}, (LOINC, "29463-7"), valueQuantity=_qty(80, "kg")),
    _obs("abo", {"reference": "Patient/p2"}, (LOINC, "883-9"),
         valueCodeableConcept={"coding": [{"system": "http://snomed.info/sct", "code": "112144000"}]}),
    _obs("grp", {"reference": "Group/g1"}, (LOINC, "1234-5")),
    _obs("byid", {"identifier": {"system": "urn:mrn", "value": "111"}}, (LOINC, "1234-5")),
    _obs("a1", {"reference": "Patient/p2"}, (FINDINGS, "A1"), performer=[{"reference": "Patient/p1"}]),
    _obs("a1a", {"reference": "Patient/p2"}, (FINDINGS, "A1a")),
    _obs("b", {"reference": "Patient/p2"}, (FINDINGS, "B")),
    {"resourceType": "Encounter", "id": "e1", "status": "finished", "subject": {"reference": "Patient/p1"},
     "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode", "code": "AMB"}},
    {"resourceType": "CodeSystem", "id": "findings", "url": FINDINGS, "status": "active", "content": "complete",
     "hierarchyMeaning": "is-a", "concept": [
         {"code": "A", "concept": [{"code": "A1", "concept": [{"code": "A1a"}]}, {"code": "A2"}]},
         {"code": "B", "property": [{"code": "parent", "valueCode": "A2"}]}]},
    {"resourceType": "ValueSet", "id": "vs-a", "url": f"{VS}/a", "status": "active", "compose": {
        "include": [{"system": FINDINGS, "filter": [{"property": "concept", "op": "is-a", "value": "A1"}]},
                    {"system": LOINC, "concept": [{"code": "29463-7"}]}],
        "exclude": [{"system": FINDINGS, "concept": [{"code": "A1a"}]}]}},
    {"resourceType": "ValueSet", "id": "vs-b", "url": f"{VS}/b", "status": "active", "compose": {
        "include": [{"valueSet": [f"{VS}/a"]}, {"system": FINDINGS, "concept": [{"code": "B"}]}]}},
    {"resourceType": "ValueSet", "id": "vs-snomed", "url": f"{VS}/snomed", "status": "active", "compose": {
        "include": [{"system": "http://snomed.info/sct", "filter": [  # a filter needs the concepts, not stored
            {"property": "concept", "op": "is-a", "value": "404684003"}]}]}},
    # :text: every text of a concept (its text and each coding's display), and a reference's display
    {"resourceType": "Patient", "id": "p3"},
    {"resourceType": "Observation", "id": "t1", "status": "final",
     "code": {"coding": [{"system": LOINC, "code": "8867-4", "display": "Heart rate"}], "text": "Pulse"},
     "subject": {"reference": "Patient/p3", "display": "Ève Müller"}, "performer": [{"display": "Dr. Zoë O'Brien"}]},
    {"resourceType": "Observation", "id": "t2", "status": "final",
     "code": {"coding": [{"system": LOINC, "code": "8310-5", "display": "Body temperature"},
                         {"display": "Température (locale)"}]},
     "subject": {"reference": "Patient/p3", "display": "Eve Muller-Smith"}},
    {"resourceType": "Observation", "id": "t3", "status": "final", "code": {"text": "Heart murmur | grade 2"},
     "subject": {"reference": "Patient/p3"}},
]

OBSERVATIONS = {r["id"] for r in RESOURCES if r["resourceType"] == "Observation"}
Case = tuple[str, list[tuple[str, str]], set[str]]
CASES: list[Case] = [
    # composites: the components must match within the same element
    ("Observation", [("component-code-value-quantity", f"{LOINC}|8480-6$gt140")], {"bp1"}),
    ("Observation", [("component-code-value-quantity", "8462-4$gt140")], {"bp2"}),
    ("Observation", [("component-code-value-quantity", "8480-6$lt120,8462-4$lt100")], {"bp1", "bp2"}),
    ("Observation", [("component-code-value-quantity", f"8480-6$150|{UCUM}|mm[Hg]")], {"bp1"}),
    ("Observation", [("code-value-quantity", f"{LOINC}|29463-7$gt70")], {"weight"}),
    ("Observation", [("code-value-quantity", f"29463-7$gt79000|{UCUM}|g")], {"weight"}),
    ("Observation", [("code-value-quantity", f"29463-7$gt81000|{UCUM}|g")], set()),
    ("Observation", [("code-value-quantity", "29463-7$lt70")], set()),
    ("Observation", [("code-value-concept", f"{LOINC}|883-9$http://snomed.info/sct|112144000")], {"abo"}),
    ("Observation", [("code-value-concept", "883-9$1234")], set()),
    ("Observation", [("combo-code-value-quantity", "8480-6$ge150")], {"bp1"}),
    ("Observation", [("component-code-value-quantity:missing", "false")], {"bp1", "bp2"}),
    ("Observation", [("code-value-quantity:missing", "true")], OBSERVATIONS - {"weight"}),
    # :of-type, :identifier, :[type]
    ("Patient", [("identifier:of-type", f"{V2}|MR|111")], {"p1"}),
    ("Patient", [("identifier:of-type", f"{V2}|SS|111")], set()),
    ("Patient", [("identifier:of-type", f"{V2}|MR|333,{V2}|SS|222")], {"p1", "p2"}),
    ("Observation", [("subject:identifier", "urn:mrn|111")], {"byid"}),
    ("Observation", [("subject:identifier", "urn:other|111")], set()),
    ("Observation", [("subject:Group", "g1")], {"grp"}),
    ("Observation", [("subject:Patient", "g1")], set()),
    ("Observation", [("subject:Patient", "p1"), ("code", "29463-7")], {"weight"}),
    # :below / :above over the stored CodeSystem, :in / :not-in over stored ValueSets
    ("Observation", [("code:below", f"{FINDINGS}|A")], {"a1", "a1a", "b"}),
    ("Observation", [("code:below", f"{FINDINGS}|A1")], {"a1", "a1a"}),
    ("Observation", [("code:above", f"{FINDINGS}|A1a")], {"a1", "a1a"}),
    ("Observation", [("code:above", f"{FINDINGS}|B")], {"b"}),
    ("Observation", [("code:in", f"{VS}/a")], {"a1", "weight"}),
    ("Observation", [("code:in", f"{VS}/b")], {"a1", "weight", "b"}),
    ("Observation", [("code:not-in", f"{VS}/a")], OBSERVATIONS - {"a1", "weight"}),
    ("Observation", [("code:in", f"{VS}/a"), ("subject", "Patient/p1")], {"weight"}),
    # uri :below / :above (path prefixes)
    ("ValueSet", [("url:below", VS)], {"vs-a", "vs-b", "vs-snomed"}),
    ("ValueSet", [("url:below", "http://example.org/fhir/Value")], set()),
    ("ValueSet", [("url:above", f"{VS}/a/version/2")], {"vs-a"}),
    ("CodeSystem", [("url:above", f"{FINDINGS}/sub")], {"findings"}),
    # chained modifiers
    ("Observation", [("subject:Patient.identifier:of-type", f"{V2}|MR|333")], {"abo", "a1", "a1a", "b", "bp2"}),
    # :text on tokens: the string search (case- and accent-insensitive, starts-with) over every text
    ("Observation", [("code:text", "heart")], {"t1", "t3"}),
    ("Observation", [("code:text", "PULSE")], {"t1"}),
    ("Observation", [("code:text", "heart rate")], {"t1"}),  # a display, though the concept has a text
    ("Observation", [("code:text", "rate")], set()),  # a word inside the text is not its start
    ("Observation", [("code:text", "temperature")], {"t2"}),  # a coding with only a display
    ("Observation", [("code:text", "heart murmur | grade")], {"t3"}),  # the value is a string, not system|code
    ("Observation", [("code:text", "heart rate,body")], {"t1", "t2"}),
    ("Observation", [("code:text", "heart"), ("code", "8867-4")], {"t1"}),
    ("Patient", [("_has:Observation:subject:code:text", "pulse")], {"p3"}),
    # :text on references: the string search on Reference.display
    ("Observation", [("subject:text", "eve")], {"t1", "t2"}),
    ("Observation", [("subject:text", "ÈVE MÜLLER")], {"t1", "t2"}),
    ("Observation", [("subject:text", "eve muller-")], {"t2"}),
    ("Observation", [("subject:text", "muller")], set()),
    ("Observation", [("patient:text", "eve m"), ("code", "8310-5")], {"t2"}),
    ("Observation", [("performer:text", "dr. zoe")], {"t1"}),  # a reference with only a display
    ("Observation", [("performer:missing", "true"), ("code:text", "pulse")], {"t1"}),
]
COMPARTMENT: list[tuple[str, str, list[tuple[str, str]], set[str]]] = [
    ("p1", "Observation", [], {"bp1", "weight", "a1"}),  # a1 through performer
    ("p1", "Observation", [("code", "29463-7")], {"weight"}),
    ("p2", "Observation", [("code:below", f"{FINDINGS}|A")], {"a1", "a1a", "b"}),
    ("p1", "Encounter", [], {"e1"}),
    ("p1", "Patient", [], {"p1"}),
    ("p1", "*", [], {"p1", "bp1", "weight", "a1", "e1"}),
    ("p1", "*", [("_id", "e1,p2")], {"e1"}),
    ("nobody", "Observation", [], set()),
]


def _entries() -> list[dict[str, Any]]:
    return [{"resource": r, "request": {"method": "PUT", "url": f"{r['resourceType']}/{r['id']}"}}
            for r in RESOURCES]


@pytest.fixture
def loaded(client: httpx.Client) -> httpx.Client:
    response = client.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": _entries()})
    assert response.status_code == 200, response.text
    return client


@pytest.fixture(scope="module")
def memory() -> tuple[Services, Context]:
    return load_memory(_entries())


def _ids(bundle: dict[str, Any]) -> set[str]:
    return {e["resource"]["id"] for e in bundle.get("entry", []) if e["search"]["mode"] == "match"}


def _memory_body(result: Result) -> dict[str, Any]:
    assert isinstance(result.body, dict)
    body: dict[str, Any] = orjson.loads(orjson.dumps(result.body))
    return body


def _name(case: Case) -> str:
    return "&".join(f"{k}={v}" for k, v in case[1])


@pytest.mark.parametrize(("resource_type", "params", "matched"), CASES, ids=[_name(c) for c in CASES])
def test_search_over_http_matches_the_worked_answer(loaded: httpx.Client, resource_type: str,
                                                    params: list[tuple[str, str]], matched: set[str]) -> None:
    response = loaded.get(resource_type, params=tuple(params))
    assert response.status_code == 200, response.text
    assert _ids(response.json()) == matched
    assert [k for k, _ in params] == [k for k, _ in httpx.URL(response.json()["link"][0]["url"]).params.multi_items()
                                      if k != "_count"]


@pytest.mark.parametrize(("resource_type", "params", "matched"), CASES, ids=[_name(c) for c in CASES])
def test_the_in_memory_engine_gives_the_same_answer(memory: tuple[Services, Context], resource_type: str,
                                                    params: list[tuple[str, str]], matched: set[str]) -> None:
    services, ctx = memory
    with services.store.unit_of_work(write=False) as tx:
        assert _ids(_memory_body(search(ctx, services, tx, resource_type, params))) == matched


@pytest.mark.parametrize(("patient", "resource_type", "params", "matched"), COMPARTMENT,
                         ids=[f"{c[0]}/{c[1]}?{'&'.join(f'{k}={v}' for k, v in c[2])}" for c in COMPARTMENT])
def test_compartment_search(loaded: httpx.Client, memory: tuple[Services, Context], patient: str,
                            resource_type: str, params: list[tuple[str, str]], matched: set[str]) -> None:
    response = loaded.get(f"Patient/{patient}/{resource_type}", params=tuple(params))
    assert response.status_code == 200, response.text
    assert _ids(response.json()) == matched
    services, ctx = memory
    with services.store.unit_of_work(write=False) as tx:
        result = compartment_search(ctx, services, tx, patient, None if resource_type == "*" else resource_type,
                                    params)
    assert _ids(_memory_body(result)) == matched


def test_compartment_pages_link_under_the_compartment(loaded: httpx.Client) -> None:
    seen: list[str] = []
    url: str | None = "Patient/p1/*?_count=2"
    while url is not None:
        body = loaded.get(url).json()
        links = {link["relation"]: link["url"] for link in body["link"]}
        assert httpx.URL(links["self"]).path == "/fhir/Patient/p1/*"
        seen.extend(e["resource"]["id"] for e in body.get("entry", []))
        url = links.get("next")
        assert url is None or httpx.URL(url).path == "/fhir/Patient/p1/*"
    assert sorted(seen) == sorted({"p1", "bp1", "weight", "a1", "e1"})


def test_metadata_lists_composites_and_the_patient_compartment(client: httpx.Client) -> None:
    statement = client.get("metadata").json()
    rest = statement["rest"][0]
    assert rest["compartment"] == ["http://hl7.org/fhir/CompartmentDefinition/patient"]
    observation = next(r for r in rest["resource"] if r["type"] == "Observation")
    params = {p["name"]: p["type"] for p in observation["searchParam"]}
    assert params["component-code-value-quantity"] == "composite"
    assert params["code-value-concept"] == "composite"


@pytest.mark.parametrize(("path", "params", "says"), [
    ("Patient", {"identifier:of-type": "urn:mrn|111"}, "[type system]|[type code]|[identifier value]"),
    ("Observation", {"code-value-quantity": "1$2$3"}, "takes 2 values joined by $"),
    ("Observation", {"component-code-value-quantity:exact": "a$1"}, "':exact' is not supported"),
    ("Observation", {"subject:Medication": "1"}, "points at"),
    ("Observation", {"subject:Patient": "Group/g1"}, "names type Patient"),
    ("Observation", {"date:below": "2020"}, "':below' is not supported"),
    ("Observation", {"code:text:x": "a"}, "is not supported"),
    ("Observation", {"subject:exact": "a"}, "'subject' takes :identifier, :missing, :text"),
    ("ActivityDefinition", {"composed-of:text": "a"}, "never a Reference with a display to search"),
    ("ActivityDefinition", {"composed-of:exact": "a"}, "'composed-of' takes :identifier, :missing."),
    ("Observation", {"code:below": "A"}, "needs both its system and the code"),
    ("Observation", {"code:below": "http://nowhere.example/cs|A"}, "no CodeSystem with that url is stored"),
    ("Observation", {"code:in": f"{VS}/missing"}, "no ValueSet with url"),
    ("Observation", {"code:in": f"{VS}/snomed"}, "code system http://snomed.info/sct"),
    ("Patient/p1/Organization", {}, "not in the Patient compartment"),
])
def test_unsupported_or_unanswerable_modifiers_are_400(loaded: httpx.Client, path: str, params: dict[str, str],
                                                       says: str) -> None:
    response = loaded.get(path, params=params)
    assert response.status_code == 400, response.text
    assert says in response.json()["issue"][0]["diagnostics"]
