"""``GET Patient/$everything`` at type level (https://hl7.org/fhir/R4/patient-operation-everything.html)
over HTTP on both engines: paging through ``next`` links gives every Patient and every resource of their
compartments exactly once, also while others write; ``_type`` and ``_count`` are honoured."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def _observation(patient: str, code: str) -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]}}


def _walk(client: httpx.Client, params: dict[str, str], write: bool = False) -> list[tuple[str, str]]:
    seen: list[tuple[str, str]] = []
    response = client.get("Patient/$everything", params=params)
    while True:
        assert response.status_code == 200, response.text
        bundle = response.json()
        seen.extend((e["resource"]["resourceType"], e["resource"]["id"]) for e in bundle.get("entry", []))
        following = [lk["url"] for lk in bundle["link"] if lk["relation"] == "next"]
        if write:  # another client keeps writing while the pages are read
            client.post("Observation", json=_observation("nobody", "late"))
        if not following:
            return seen
        response = client.get(following[0])


@pytest.fixture
def population(client: httpx.Client) -> set[tuple[str, str]]:
    expected: set[tuple[str, str]] = set()
    for n in range(4):
        pid = client.post("Patient", json={"resourceType": "Patient", "name": [{"family": f"Every{n}"}]}).json()["id"]
        expected.add(("Patient", pid))
        for code in ("8867-4", "8310-5")[: 1 + n % 2]:
            oid = client.post("Observation", json=_observation(pid, code)).json()["id"]
            expected.add(("Observation", oid))
    return expected


@pytest.mark.parametrize("count", ["1", "2", "3", "50"])
def test_pages_give_every_patient_and_compartment_resource_once(client: httpx.Client,
                                                                population: set[tuple[str, str]], count: str) -> None:
    seen = _walk(client, {"_count": count}, write=count == "2")
    assert len(seen) == len(set(seen))
    assert set(seen) == population


def test_type_filter_and_patients_come_first_for_each(client: httpx.Client, population: set[tuple[str, str]]) -> None:
    only = _walk(client, {"_type": "Observation", "_count": "2"})
    assert set(only) == {k for k in population if k[0] == "Observation"}
    every = _walk(client, {"_count": "3"})
    first_of_each = [i for i, (kind, _) in enumerate(every) if kind == "Patient"]
    assert len(first_of_each) == 4
    assert first_of_each[0] == 0


def test_bad_parameters_are_400(client: httpx.Client, population: set[tuple[str, str]]) -> None:
    assert client.get("Patient/$everything", params={"_cursor": "x"}).status_code == 400
    assert client.get("Patient/$everything", params={"_type": "Medication"}).status_code == 400
    assert client.get("Patient/$everything", params={"_count": "0"}).status_code == 400
