"""The data steward over HTTP: manual link, unlink, merge, review resolution and undo, each
outranking automatic linking (a later update never re-links what a steward unlinked)."""

from __future__ import annotations

from typing import Any

import httpx

from .helpers import create, golden_of, parameters, person, reviews, sources_of


def _op(client: httpx.Client, name: str, expect: int = 200, **values: Any) -> dict[str, Any]:
    return _call(client, name, values, expect)


def _call(client: httpx.Client, name: str, values: dict[str, Any], expect: int = 200) -> dict[str, Any]:
    response = client.post(f"/Patient/${name}", json=parameters(**values))
    assert response.status_code == expect, response.text
    body: dict[str, Any] = response.json()
    return body


def _decision(answer: dict[str, Any]) -> int:
    return int(next(p["valueInteger"] for p in answer["parameter"] if p["name"] == "decision"))


def _touch(client: httpx.Client, patient: dict[str, Any], hospital: str) -> None:
    """An update by the hospital, sending its record without the index's link."""
    current = client.get(f"/Patient/{patient['id']}").json()
    body = {k: v for k, v in current.items() if k not in ("link", "meta")}
    response = client.put(f"/Patient/{patient['id']}", json={**body, "active": True}, headers={"X-Tenant": hospital})
    assert response.status_code == 200, response.text


def test_unlink_overrides_automatic_linking_for_good(mpi: httpx.Client) -> None:
    a = create(mpi, person("Smith"))
    b = create(mpi, person("Smith", hospital="hospital-b"), "hospital-b")
    shared = golden_of(mpi, a["id"])
    assert golden_of(mpi, b["id"]) == shared
    answer = _op(mpi, "mdm-unlink", source=f"Patient/{b['id']}")
    assert _decision(answer) >= 1
    own = golden_of(mpi, b["id"])
    assert own not in (None, shared)
    assert sources_of(mpi, str(shared)) == [a["id"]]
    assert sources_of(mpi, str(own)) == [b["id"]]
    _touch(mpi, b, "hospital-b")
    _touch(mpi, a, "hospital-a")
    assert golden_of(mpi, b["id"]) == own
    assert golden_of(mpi, a["id"]) == shared
    # b is alone now: nothing to unlink
    assert _op(mpi, "mdm-unlink", 400, source=f"Patient/{b['id']}")["resourceType"] == "OperationOutcome"
    # a third identical record joins one of them, never bridges the steward's no-match
    c = create(mpi, person("Smith", hospital="hospital-c"), "hospital-c")
    assert golden_of(mpi, c["id"]) in (shared, own)
    assert sources_of(mpi, str(own)) != sorted([a["id"], b["id"]])
    assert sources_of(mpi, str(shared)) != sorted([a["id"], b["id"]])


def test_manual_link_of_a_probable_pair_closes_its_review(mpi: httpx.Client) -> None:
    a = create(mpi, person("Johnson"))
    b = create(mpi, person("Jonhson", hospital="hospital-b"), "hospital-b")
    assert len(reviews(mpi, status="requested")) == 1
    _op(mpi, "mdm-link", source=f"Patient/{b['id']}", target=f"Patient/{a['id']}")
    golden = golden_of(mpi, a["id"])
    assert golden_of(mpi, b["id"]) == golden
    assert sources_of(mpi, str(golden)) == sorted([a["id"], b["id"]])
    assert reviews(mpi, status="requested") == []
    assert reviews(mpi, status="completed")[0]["output"][0]["valueCode"] == "match"
    _touch(mpi, b, "hospital-b")
    assert golden_of(mpi, b["id"]) == golden


def test_merge_marks_replaced_by_and_undo_restores(mpi: httpx.Client) -> None:
    a = create(mpi, person("Adams", given="Jo", birth="1990-01-01"))
    c = create(mpi, person("Baker", given="Al", birth="1960-06-06"), "hospital-c")
    ga, gc = golden_of(mpi, a["id"]), golden_of(mpi, c["id"])
    merged = _call(mpi, "mdm-merge", {"from": f"Patient/{gc}", "to": f"Patient/{ga}"})
    assert golden_of(mpi, c["id"]) == ga
    old = mpi.get(f"/Patient/{gc}").json()
    assert old["active"] is False
    assert old["link"] == [{"other": {"reference": f"Patient/{ga}"}, "type": "replaced-by"}]
    survivor = mpi.get(f"/Patient/{ga}").json()
    assert {"other": {"reference": f"Patient/{gc}"}, "type": "replaces"} in survivor["link"]
    assert sources_of(mpi, str(ga)) == sorted([a["id"], c["id"]])
    _op(mpi, "mdm-undo", decision=_decision(merged))
    assert golden_of(mpi, c["id"]) == gc
    assert mpi.get(f"/Patient/{gc}").json()["active"] is True
    assert sources_of(mpi, str(ga)) == [a["id"]]
    assert _op(mpi, "mdm-undo", 409, decision=_decision(merged))["resourceType"] == "OperationOutcome"


def test_undo_refuses_while_a_later_decision_touched_the_same_records(mpi: httpx.Client) -> None:
    a = create(mpi, person("Smith"))
    b = create(mpi, person("Smith", hospital="hospital-b"), "hospital-b")
    shared = golden_of(mpi, a["id"])
    first = _decision(_op(mpi, "mdm-unlink", source=f"Patient/{b['id']}"))
    second = _decision(_op(mpi, "mdm-link", source=f"Patient/{b['id']}", target=f"Patient/{a['id']}"))
    assert golden_of(mpi, b["id"]) == shared
    _op(mpi, "mdm-undo", 409, decision=first)
    _op(mpi, "mdm-undo", decision=second)
    assert golden_of(mpi, b["id"]) != shared
    _op(mpi, "mdm-undo", decision=first)
    # back to the automatic link
    assert golden_of(mpi, b["id"]) == shared
    assert sources_of(mpi, str(shared)) == sorted([a["id"], b["id"]])
    _op(mpi, "mdm-undo", 404, decision=10_000)


def test_review_task_resolution(mpi: httpx.Client) -> None:
    a = create(mpi, person("Johnson"))
    b = create(mpi, person("Jonhson", hospital="hospital-b"), "hospital-b")
    task = reviews(mpi)[0]
    answer = mpi.post(f"/Task/{task['id']}/$mdm-resolve", json=parameters(decision="no-match"))
    assert answer.status_code == 200, answer.text
    done = mpi.get(f"/Task/{task['id']}").json()
    assert done["status"] == "completed"
    assert done["businessStatus"]["text"] == "no-match"
    again = mpi.post(f"/Task/{task['id']}/$mdm-resolve", json=parameters(decision="match"))
    assert again.status_code == 409
    assert golden_of(mpi, a["id"]) != golden_of(mpi, b["id"])
    # undoing the resolution reopens the task; resolving it as a match links the pair
    _op(mpi, "mdm-undo", decision=_decision(answer.json()))
    assert mpi.get(f"/Task/{task['id']}").json()["status"] == "requested"
    assert mpi.post(f"/Task/{task['id']}/$mdm-resolve", json=parameters(decision="match")).status_code == 200
    assert golden_of(mpi, a["id"]) == golden_of(mpi, b["id"])
    assert mpi.post("/Task/unknown/$mdm-resolve", json=parameters(decision="match")).status_code == 404
    assert mpi.post(f"/Task/{task['id']}/$mdm-resolve", json=parameters(decision="maybe")).status_code == 400


def test_operations_check_their_inputs(mpi: httpx.Client) -> None:
    a = create(mpi, person("Smith"))
    golden = golden_of(mpi, a["id"])
    _op(mpi, "mdm-link", 404, source="Patient/nope", target=f"Patient/{a['id']}")
    _op(mpi, "mdm-link", 400, source=f"Patient/{golden}", target=f"Patient/{a['id']}")
    _op(mpi, "mdm-link", 400, source=f"Observation/{a['id']}", target=f"Patient/{a['id']}")
    _call(mpi, "mdm-merge", {"from": f"Patient/{a['id']}", "to": f"Patient/{golden}"}, 400)
    _op(mpi, "mdm-undo", 400)
