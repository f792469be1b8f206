"""Building Bundles: searchset and history pages, with paging links
(https://hl7.org/fhir/R4/bundle.html, https://hl7.org/fhir/R4/http.html#paging).

Entries embed each stored version's JSON bytes as they are (``orjson.Fragment``) instead of parsing
and re-serialising them.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any
from urllib.parse import urlencode

import orjson

from ehr.store.records import VersionRecord, now_us, to_http_date, to_instant


def full_url(base_url: str, record: VersionRecord) -> str:
    return f"{base_url}/{record.resource_type}/{record.id}"


def resource_fragment(record: VersionRecord) -> orjson.Fragment:
    assert record.body is not None
    return orjson.Fragment(record.body)


def bundle(kind: str, entries: Sequence[dict[str, Any]], links: Sequence[tuple[str, str]],
           total: int | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {
        "resourceType": "Bundle",
        "id": str(uuid.uuid4()),
        "meta": {"lastUpdated": to_instant(now_us())},
        "type": kind,
    }
    if total is not None:
        out["total"] = total
    if links:
        out["link"] = [{"relation": rel, "url": url} for rel, url in links]
    if entries:
        out["entry"] = list(entries)
    return out


def link(base: str, path: str, params: Sequence[tuple[str, str]]) -> str:
    query = urlencode(list(params))
    return f"{base}/{path}" + (f"?{query}" if query else "") if path else f"{base}" + (f"?{query}" if query else "")


def history_entry(base_url: str, record: VersionRecord) -> dict[str, Any]:
    url = f"{record.resource_type}/{record.id}"
    entry: dict[str, Any] = {"fullUrl": f"{base_url}/{url}"}
    if record.body is not None and not record.deleted:
        entry["resource"] = resource_fragment(record)
    method = {"PATCH": "PATCH", "DELETE": "DELETE"}.get(record.method, "PUT" if record.version > 1 else "POST")
    entry["request"] = {"method": method, "url": url if method != "POST" else record.resource_type}
    entry["response"] = {
        "status": "204" if record.deleted else ("201" if record.version == 1 else "200"),
        "etag": f'W/"{record.version}"',
        "lastModified": to_instant(record.last_updated),
    }
    return entry


def http_headers(record: VersionRecord) -> dict[str, str]:
    return {"ETag": f'W/"{record.version}"', "Last-Modified": to_http_date(record.last_updated)}
