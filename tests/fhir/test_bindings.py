"""Required terminology bindings (https://hl7.org/fhir/R4/terminologies.html#required): codes outside
their value set are refused with 422 naming the element, over HTTP on both engines, on every write path;
every official R4 example passes the check (so nothing valid is refused)."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehr.fhir.bindings import check_bindings, required_bindings

from .support import count, issue_expressions, patient

EXAMPLES = Path(__file__).resolve().parent.parent / "golden" / "r4-examples.ndjson.gz"
GENDERS = required_bindings()["Patient.gender"][1]


def test_every_official_example_meets_its_required_bindings() -> None:
    with gzip.open(EXAMPLES, "rb") as handle:
        examples = [orjson.loads(line) for line in handle if line.strip()]
    failing = [(r["resourceType"], r.get("id"), issue.diagnostics)
               for r in examples for issue in check_bindings(r)]
    assert len(examples) > 2000
    assert failing == []


def test_the_bindings_come_from_the_official_value_sets() -> None:
    url, codes = required_bindings()["Observation.status"]
    assert url == "http://hl7.org/fhir/ValueSet/observation-status"
    assert {"registered", "preliminary", "final", "amended", "entered-in-error"} <= codes
    assert "Coding.code" not in required_bindings()  # Codings are bound per element, not here


@given(st.text(min_size=1, max_size=12).filter(lambda s: s.strip() != "" and s not in GENDERS))
def test_any_code_outside_the_value_set_is_reported_at_its_path(code: str) -> None:
    resource: dict[str, Any] = {"resourceType": "Patient", "contact": [{"gender": "male"}, {"gender": code}]}
    issues = check_bindings(resource)
    assert [i.expression for i in issues] == [("Patient.contact[1].gender",)]
    assert issues[0].code == "code-invalid"


def test_codes_inside_datatypes_and_contained_resources_are_checked() -> None:
    resource = {"resourceType": "Observation", "status": "final", "code": {"text": "pulse"},
                "valueQuantity": {"value": 1, "comparator": "<<"},
                "contained": [{"resourceType": "Patient", "id": "p", "telecom": [{"system": "beeper"}]}]}
    paths = sorted(i.expression[0] for i in check_bindings(resource))
    assert paths == ["Observation.contained[0].telecom[0].system", "Observation.valueQuantity.comparator"]


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_a_bad_code_is_422_with_the_element_path_and_writes_nothing(client: httpx.Client, method: str) -> None:
    body = patient(gender="bogus", id="bound-1") if method == "PUT" else patient(gender="bogus")
    url = "Patient/bound-1" if method == "PUT" else "Patient"
    response = client.request(method, url, json=body)
    assert response.status_code == 422
    assert issue_expressions(response.json()) == ["Patient.gender"]
    outcome = response.json()["issue"][0]
    assert outcome["code"] == "code-invalid"
    assert "female | male | other | unknown" in outcome["diagnostics"]
    assert count(client, "Patient") == 0


def test_a_bad_code_in_a_transaction_fails_it_whole(client: httpx.Client) -> None:
    entries = [{"resource": patient(gender=g), "request": {"method": "POST", "url": "Patient"}}
               for g in ("female", "femal")]
    response = client.post("", json={"resourceType": "Bundle", "type": "transaction", "entry": entries})
    assert response.status_code == 422
    assert issue_expressions(response.json()) == ["Bundle.entry[1].resource.gender"]
    assert count(client, "Patient") == 0


def test_a_patch_that_breaks_a_binding_is_refused(client: httpx.Client) -> None:
    created = client.post("Patient", json=patient(gender="female")).json()
    response = client.patch(f"Patient/{created['id']}", content=orjson.dumps(
        [{"op": "replace", "path": "/gender", "value": "F"}]), headers={"Content-Type": "application/json-patch+json"})
    assert response.status_code == 422
    assert issue_expressions(response.json()) == ["Patient.gender"]
    assert client.get(f"Patient/{created['id']}").json()["gender"] == "female"
