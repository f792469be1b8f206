"""``Patient/[id]/$everything`` over HTTP: the compartment, paging that returns every resource once,
``_since`` and ``_type``, and with ``_mdm=true`` the records of every hospital, each tagged with its
source and identical facts shown once."""

from __future__ import annotations

from typing import Any

import httpx

from ehr.fhir.operations.everything import ALSO_REPORTED, SOURCE_HOSPITAL

from .helpers import create, golden_of, person


def _observation(patient_id: str, value: float, when: str = "2024-03-01T08:00:00Z",
                 code: str = "2339-0") -> dict[str, Any]:
    return {"resourceType": "Observation", "status": "final", "subject": {"reference": f"Patient/{patient_id}"},
            "code": {"coding": [{"system": "http://loinc.org", "code": code}]}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": "mg/dL", "system": "http://unitsofmeasure.org",
                              "code": "mg/dL"}}


def _post(client: httpx.Client, body: dict[str, Any], hospital: str) -> str:
    response = client.post(f"/{body['resourceType']}", json=body, headers={"X-Tenant": hospital})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


def _pages(client: httpx.Client, url: str, params: dict[str, str]) -> list[dict[str, Any]]:
    bundles = []
    response = client.get(url, params=params)
    while True:
        assert response.status_code == 200, response.text
        bundles.append(response.json())
        following = [x["url"] for x in bundles[-1].get("link", []) if x["relation"] == "next"]
        if not following:
            return bundles
        assert len(bundles) < 100
        response = client.get(following[0])


def _ids(bundles: list[dict[str, Any]]) -> list[str]:
    return [f"{e['resource']['resourceType']}/{e['resource']['id']}" for b in bundles for e in b.get("entry", [])]


def _two_hospitals(client: httpx.Client) -> tuple[str, str, dict[str, str]]:
    a = create(client, person("Nguyen", given="Lan", birth="1975-05-05"), "hospital-a")["id"]
    b = create(client, person("Nguyen", given="Lan", birth="1975-05-05"), "hospital-b")["id"]
    made = {
        "a_glucose": _post(client, _observation(a, 95), "hospital-a"),
        "b_glucose": _post(client, _observation(b, 95.0), "hospital-b"),  # the same lab result
        "b_other_time": _post(client, _observation(b, 95, when="2024-03-02T08:00:00Z"), "hospital-b"),
        "b_other_value": _post(client, _observation(b, 120), "hospital-b"),
        "a_condition": _post(client, {"resourceType": "Condition", "subject": {"reference": f"Patient/{a}"},
                                      "code": {"text": "no coding, never merged"}}, "hospital-a"),
    }
    return a, b, made


def test_everything_of_one_record_and_of_the_person(mpi: httpx.Client) -> None:
    a, b, made = _two_hospitals(mpi)
    golden = golden_of(mpi, a)
    assert golden is not None
    own = _ids(_pages(mpi, f"/Patient/{a}/$everything", {}))
    assert own == [f"Patient/{a}", f"Condition/{made['a_condition']}", f"Observation/{made['a_glucose']}"]
    person_bundles = _pages(mpi, f"/Patient/{a}/$everything", {"_mdm": "true"})
    everything = _ids(person_bundles)
    expected = {f"Patient/{a}", f"Patient/{b}", f"Patient/{golden}", f"Condition/{made['a_condition']}",
                f"Observation/{made['b_other_time']}", f"Observation/{made['b_other_value']}"}
    glucose = {f"Observation/{made['a_glucose']}", f"Observation/{made['b_glucose']}"}
    assert len(everything) == len(set(everything)) == len(expected) + 1
    assert set(everything) - glucose == expected
    kept = next(e["resource"] for e in person_bundles[0]["entry"] if f"Observation/{e['resource']['id']}" in glucose)
    duplicate = (glucose - {f"Observation/{kept['id']}"}).pop()
    assert [x["valueReference"]["reference"] for x in kept["extension"] if x["url"] == ALSO_REPORTED] == [duplicate]
    assert person_bundles[0]["total"] == len(everything)
    tags = {e["resource"]["id"]: [t["code"] for t in e["resource"]["meta"]["tag"] if t["system"] == SOURCE_HOSPITAL]
            for b_ in person_bundles for e in b_["entry"]}
    assert tags[a] == ["hospital-a"]
    assert tags[b] == ["hospital-b"]
    assert tags[made["b_other_value"]] == ["hospital-b"]
    # the same, asked from the other hospital's record or from the golden record
    assert set(_ids(_pages(mpi, f"/Patient/{b}/$everything", {"_mdm": "true"}))) == set(everything)
    assert set(_ids(_pages(mpi, f"/Patient/{golden}/$everything", {"_mdm": "true"}))) == set(everything)


def test_everything_pages_return_each_resource_once(mpi: httpx.Client) -> None:
    a, b, _made = _two_hospitals(mpi)
    for n in range(7):
        _post(mpi, _observation(b, 60 + n, code=f"100{n}-1"), "hospital-b")
    whole = _ids(_pages(mpi, f"/Patient/{a}/$everything", {"_mdm": "true", "_count": "100"}))
    for size in ("1", "3", "4"):
        bundles = _pages(mpi, f"/Patient/{a}/$everything", {"_mdm": "true", "_count": size})
        assert _ids(bundles) == whole
        assert all(len(x.get("entry", [])) <= int(size) for x in bundles)
        assert {x["total"] for x in bundles} == {len(whole)}


def test_everything_since_type_and_errors(mpi: httpx.Client) -> None:
    a, _b, made = _two_hospitals(mpi)
    only = _ids(_pages(mpi, f"/Patient/{a}/$everything", {"_mdm": "true", "_type": "Condition"}))
    assert only == [f"Condition/{made['a_condition']}"]
    stamp = mpi.get(f"/Observation/{made['b_other_value']}").json()["meta"]["lastUpdated"]
    later = _ids(_pages(mpi, f"/Patient/{a}/$everything", {"_mdm": "true", "_since": stamp}))
    assert f"Observation/{made['b_other_value']}" in later
    assert f"Observation/{made['a_glucose']}" not in later
    assert mpi.get("/Patient/unknown/$everything").status_code == 404
    assert mpi.get(f"/Patient/{a}/$everything", params={"_type": "Nope"}).status_code == 400
    assert mpi.get(f"/Patient/{a}/$everything", params={"_since": "yesterday"}).status_code == 400
    assert mpi.get(f"/Patient/{a}/$everything", params={"_count": "0"}).status_code == 400


def test_everything_without_the_index(client: httpx.Client) -> None:
    response = client.post("/Patient", json=person("Solo"))
    pid = response.json()["id"]
    obs = client.post("/Observation", json=_observation(pid, 1)).json()["id"]
    assert _ids(_pages(client, f"/Patient/{pid}/$everything", {"_mdm": "true"})) == [f"Patient/{pid}",
                                                                                    f"Observation/{obs}"]
