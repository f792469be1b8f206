"""Helpers for the index's HTTP tests: patients at hospitals, golden records, parameters."""

from __future__ import annotations

from typing import Any

import httpx

GOLDEN = "https://ehr-service.example/fhir/CodeSystem/mdm-record-status|GOLDEN_RECORD"


def person(family: str, given: str = "Ann", birth: str = "1980-04-02", mrn: str | None = None,
           hospital: str = "hospital-a", **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"resourceType": "Patient", "name": [{"family": family, "given": [given]}],
                            "birthDate": birth, **extra}
    if mrn is not None:
        body["identifier"] = [{"system": f"http://{hospital}.example.org/mrn", "value": mrn}]
    return body


def create(client: httpx.Client, body: dict[str, Any], hospital: str = "hospital-a") -> dict[str, Any]:
    response = client.post("/Patient", json=body, headers={"X-Tenant": hospital, "Prefer": "return=representation"})
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def golden_of(client: httpx.Client, patient_id: str) -> str | None:
    """The golden record the source Patient's ``seealso`` link names (None: no link)."""
    body = client.get(f"/Patient/{patient_id}").json()
    goldens = [link["other"]["reference"].split("/")[1] for link in body.get("link", [])
               if link["type"] == "seealso" and is_golden(client, link["other"]["reference"].split("/")[1])]
    assert len(goldens) <= 1, body
    return goldens[0] if goldens else None


def is_golden(client: httpx.Client, patient_id: str) -> bool:
    response = client.get(f"/Patient/{patient_id}")
    if response.status_code != 200:
        return False
    tags = response.json().get("meta", {}).get("tag", [])
    return any(f"{t.get('system')}|{t.get('code')}" == GOLDEN for t in tags)


def sources_of(client: httpx.Client, golden_id: str) -> list[str]:
    body = client.get(f"/Patient/{golden_id}").json()
    return sorted(link["other"]["reference"].split("/")[1] for link in body.get("link", [])
                  if link["type"] == "seealso")


def reviews(client: httpx.Client, **params: str) -> list[dict[str, Any]]:
    bundle = client.get("/Task", params={"code": "mdm-review", **params}).json()
    return [e["resource"] for e in bundle.get("entry", [])]


def parameters(**values: Any) -> dict[str, Any]:
    """A Parameters resource: strings as valueReference when they look like Type/id, else valueString."""
    params = []
    for name, value in values.items():
        if isinstance(value, bool):
            params.append({"name": name, "valueBoolean": value})
        elif isinstance(value, int):
            params.append({"name": name, "valueInteger": value})
        elif isinstance(value, dict):
            params.append({"name": name, "resource": value})
        elif "/" in value:
            params.append({"name": name, "valueReference": {"reference": value}})
        else:
            params.append({"name": name, "valueCode": value})
    return {"resourceType": "Parameters", "parameter": params}
