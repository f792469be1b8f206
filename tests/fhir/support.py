"""Small helpers shared by the HTTP tests: counting what is stored and reading OperationOutcomes."""

from __future__ import annotations

from typing import Any

import httpx

FHIR_JSON = "application/fhir+json"


def count(client: httpx.Client, resource_type: str, **params: str) -> int:
    """How many current resources of ``resource_type`` match ``params`` (``_summary=count``)."""
    response = client.get(f"/{resource_type}", params={**params, "_summary": "count"})
    assert response.status_code == 200, response.text
    total = response.json()["total"]
    assert isinstance(total, int)
    return total


def history_versions(client: httpx.Client, url: str) -> list[dict[str, Any]]:
    """Every entry of a history, following ``next`` links until there are none."""
    entries: list[dict[str, Any]] = []
    next_url: str | None = url
    pages = 0
    while next_url is not None:
        page = client.get(next_url)
        assert page.status_code == 200, page.text
        body = page.json()
        assert body["type"] == "history"
        entries.extend(body.get("entry", []))
        next_url = next((link["url"] for link in body.get("link", []) if link["relation"] == "next"), None)
        pages += 1
        assert pages < 10_000, "history paging does not end"
    return entries


def version_of(entry: dict[str, Any]) -> int:
    """The version number in a history entry's ``response.etag`` (``W/"3"`` → 3)."""
    etag = str(entry["response"]["etag"])
    return int(etag.removeprefix("W/").strip('"'))


def issue_expressions(outcome: dict[str, Any]) -> list[str]:
    assert outcome["resourceType"] == "OperationOutcome", outcome
    return [e for issue in outcome["issue"] for e in issue.get("expression", [])]


def diagnostics(outcome: dict[str, Any]) -> str:
    assert outcome["resourceType"] == "OperationOutcome", outcome
    return " ".join(str(issue.get("diagnostics", "")) for issue in outcome["issue"])


def patient(family: str = "Doe", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": family}], **extra}


def mrn(value: str, system: str = "http://hospital.example/mrn") -> list[dict[str, str]]:
    return [{"system": system, "value": value}]
