"""Reading the entries of a batch or transaction Bundle (https://hl7.org/fhir/R4/http.html#transaction)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from ehr.errors import BadRequest, Issue

METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE")


@dataclass(slots=True)
class Entry:
    index: int
    method: str
    path: str
    query: str
    full_url: str | None
    resource: dict[str, Any] | None
    if_none_exist: str | None
    if_match: str | None

    @property
    def where(self) -> str:
        return f"Bundle.entry[{self.index}]"

    @property
    def parts(self) -> list[str]:
        return [p for p in self.path.split("/") if p]

    @property
    def resource_type(self) -> str:
        return self.parts[0]


def read_entries(bundle: dict[str, Any], base_url: str) -> list[Entry]:
    raw = bundle.get("entry", [])
    if not isinstance(raw, list):
        raise BadRequest("Bundle.entry must be an array.")
    return [_entry(i, e, base_url) for i, e in enumerate(raw)]


def _entry(index: int, raw: Any, base_url: str) -> Entry:
    where = f"Bundle.entry[{index}]"
    request = raw.get("request") if isinstance(raw, dict) else None
    if not isinstance(request, dict):
        raise _bad(where, "has no request; every batch/transaction entry needs request.method and url")
    method, url = request.get("method"), request.get("url")
    if method not in METHODS:
        raise _bad(where, f"has request.method {method!r}; use one of {', '.join(METHODS)}")
    if not isinstance(url, str) or not url:
        raise _bad(where, "has no request.url")
    path, query = _relative(url, base_url)
    resource = raw.get("resource")
    if method in ("POST", "PUT") and not isinstance(resource, dict):
        raise _bad(where, f"is a {method} without a resource")
    if not path.split("/")[0]:
        raise _bad(where, f"has request.url {url!r} without a resource type")
    return Entry(index, str(method), path, query, raw.get("fullUrl"), resource,
                 request.get("ifNoneExist"), request.get("ifMatch"))


def _relative(url: str, base_url: str) -> tuple[str, str]:
    path, _, query = url.partition("?")
    if path.startswith(base_url.rstrip("/") + "/"):
        path = path[len(base_url.rstrip("/")) + 1:]
    elif "://" in path:  # only the path decides: queries often hold URLs (identifier=http://...|123)
        path = urlsplit(path).path.rsplit("/fhir/", 1)[-1]
    return path.strip("/"), query


def _bad(where: str, message: str) -> BadRequest:
    text = f"{where} {message}."
    return BadRequest(text, issues=[Issue(text, code="invalid", expression=(where,))])
