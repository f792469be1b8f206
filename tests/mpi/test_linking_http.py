"""Online linking over HTTP on both engines: certain matches link to one golden record, probable
ones open a review Task, and every write path links."""

from __future__ import annotations

import httpx

from .helpers import create, golden_of, is_golden, person, reviews, sources_of


def test_certain_match_links_records_of_two_hospitals_to_one_golden_record(mpi: httpx.Client) -> None:
    a = create(mpi, person("Smith", mrn="A1"), "hospital-a")
    b = create(mpi, person("Smith", mrn="B7", hospital="hospital-b"), "hospital-b")
    golden = golden_of(mpi, a["id"])
    assert golden is not None
    assert is_golden(mpi, golden)
    assert golden_of(mpi, b["id"]) == golden
    assert sources_of(mpi, golden) == sorted([a["id"], b["id"]])
    record = mpi.get(f"/Patient/{golden}").json()
    assert "identifier" not in record  # MRN lookups keep finding exactly one Patient
    assert record["name"] == [{"family": "Smith", "given": ["Ann"]}]
    assert record["birthDate"] == "1980-04-02"
    assert record["active"] is True
    # the source was stored with its link: no extra version
    assert mpi.get(f"/Patient/{b['id']}").json()["meta"]["versionId"] == "1"
    assert b["link"] == [{"other": {"reference": f"Patient/{golden}"}, "type": "seealso"}]
    assert reviews(mpi) == []


def test_unrelated_record_gets_its_own_golden_record(mpi: httpx.Client) -> None:
    a = create(mpi, person("Smith"))
    c = create(mpi, person("Jones", given="Bob", birth="1950-01-01"))
    assert golden_of(mpi, a["id"]) != golden_of(mpi, c["id"])
    assert sources_of(mpi, str(golden_of(mpi, c["id"]))) == [c["id"]]


def test_probable_match_opens_one_review_task(mpi: httpx.Client) -> None:
    a = create(mpi, person("Johnson"), "hospital-a")
    b = create(mpi, person("Jonhson", hospital="hospital-b"), "hospital-b")
    assert golden_of(mpi, a["id"]) != golden_of(mpi, b["id"])
    tasks = reviews(mpi, status="requested")
    assert len(tasks) == 1
    task = tasks[0]
    assert task["focus"]["reference"] == f"Patient/{b['id']}"
    assert task["input"][0]["valueReference"]["reference"] == f"Patient/{a['id']}"
    assert task["status"] == "requested"
    assert "owner" not in task
    # an update of the same record does not open a second task for the pair
    update = {**b, "gender": "female"}
    assert mpi.put(f"/Patient/{b['id']}", json=update, headers={"X-Tenant": "hospital-b"}).status_code == 200
    assert len(reviews(mpi)) == 1


def test_possible_match_does_nothing(mpi: httpx.Client) -> None:
    a = create(mpi, person("Smith", given="Ann"))
    b = create(mpi, person("Brown", given="Eve"))
    assert golden_of(mpi, a["id"]) != golden_of(mpi, b["id"])
    assert reviews(mpi) == []


def test_transaction_update_and_conditional_writes_link(mpi: httpx.Client) -> None:
    bundle = {"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": "urn:uuid:1", "resource": person("Lee", given="Kim"),
         "request": {"method": "POST", "url": "Patient"}},
        {"fullUrl": "urn:uuid:2", "resource": person("Lee", given="Kim", hospital="hospital-b"),
         "request": {"method": "POST", "url": "Patient"}},
    ]}
    response = mpi.post("", json=bundle, headers={"X-Tenant": "hospital-b"})
    assert response.status_code == 200, response.text
    ids = [e["response"]["location"].split("/")[1] for e in response.json()["entry"]]
    assert golden_of(mpi, ids[0]) == golden_of(mpi, ids[1]) is not None
    # a conditional update that makes a third record the same person
    other = create(mpi, person("Different", given="Kim"))
    left = golden_of(mpi, other["id"])
    moved = {**person("Lee", given="Kim", mrn="C3", hospital="hospital-c")}
    put = mpi.put("/Patient", params={"_id": other["id"]}, json={**moved, "id": other["id"]},
                  headers={"X-Tenant": "hospital-c"})
    assert put.status_code == 200, put.text
    assert golden_of(mpi, other["id"]) == golden_of(mpi, ids[0])
    assert len(sources_of(mpi, str(golden_of(mpi, ids[0])))) == 3
    # the golden record it left has no sources any more and is deleted
    assert mpi.get(f"/Patient/{left}").status_code == 410


def test_deleting_a_source_removes_it_from_its_golden_record(mpi: httpx.Client) -> None:
    a = create(mpi, person("Smith"))
    b = create(mpi, person("Smith", hospital="hospital-b"), "hospital-b")
    golden = str(golden_of(mpi, a["id"]))
    assert mpi.delete(f"/Patient/{b['id']}").status_code == 204
    assert sources_of(mpi, golden) == [a["id"]]
    assert mpi.delete(f"/Patient/{a['id']}").status_code == 204
    assert mpi.get(f"/Patient/{golden}").status_code == 410
