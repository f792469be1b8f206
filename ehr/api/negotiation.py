"""Content negotiation and request bodies: FHIR JSON in (415 otherwise, 413 over the limit), FHIR JSON
out (``_format``, ``Accept``, ``_pretty``, 406 for formats not served).

Spec: https://hl7.org/fhir/R4/http.html#mime-type, #parameters
"""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import Request, Response

from ehr.errors import NotAcceptable, PayloadTooLarge, UnsupportedMediaType
from ehr.fhir.bundles import http_headers
from ehr.fhir.interactions.context import Result
from ehr.fhir.jsonio import dumps
from ehr.fhir.projection import project
from ehr.store.records import VersionRecord

FHIR_JSON = "application/fhir+json"
JSON_TYPES = frozenset({"application/fhir+json", "application/json", "application/json+fhir", "text/json"})
PATCH_TYPES = frozenset({"application/json-patch+json", *JSON_TYPES})
_FORMATS = frozenset({"json", "application/json", "application/fhir+json", "application/json+fhir"})

#: where a request's FHIR base URL is kept once derived
_BASE_KEY = "ehr.fhir_base"


def media_type(request: Request) -> str:
    return request.headers.get("content-type", "").split(";")[0].strip().lower()


async def read_body(request: Request, limit: int, allowed: frozenset[str] = JSON_TYPES) -> bytes:
    """The request body, after checking its content type and size."""
    kind = media_type(request)
    if kind not in allowed:
        raise UnsupportedMediaType(
            f"Content-Type {kind or '(none)'!r} is not accepted here; send {' or '.join(sorted(allowed))}."
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def check_accept(request: Request) -> None:
    fmt = request.query_params.get("_format")
    if fmt is not None and fmt.split(";")[0].strip().lower() not in _FORMATS:
        raise NotAcceptable(f"_format={fmt} is not served; this server speaks FHIR JSON (_format=json).")
    accept = request.headers.get("accept")
    if fmt is None and accept and not _accepts_json(accept):
        raise NotAcceptable(f"Accept: {accept} is not served; ask for application/fhir+json.")


def fhir_response(request: Request, result: Result, *, prefer: bool = False) -> Response:
    """Turn an interaction's result into the HTTP response, honouring _pretty and _elements, and
    for writes (``prefer=True``) the client's ``Prefer: return=...``."""
    headers = dict(result.headers)
    record = result.record
    if record is not None:
        headers.update(http_headers(record))
        if result.location:
            headers["Location"] = _location(request, record)
    content = _content(request, result, prefer)
    if content is None:
        return Response(status_code=result.status, headers=headers)
    return Response(content=content, status_code=result.status, headers=headers,
                    media_type=f"{FHIR_JSON}; charset=utf-8")


def _content(request: Request, result: Result, honour_prefer: bool) -> bytes | None:
    if result.status in (204, 304) or result.body is None:
        return None
    prefer = prefer_return(request) if honour_prefer else None
    if prefer == "minimal":
        return None
    if prefer == "OperationOutcome":
        from ehr.errors import information

        return dumps(information(f"{request.method} succeeded with status {result.status}."))
    params = request.query_params
    pretty = params.get("_pretty") == "true"
    body = result.body
    if isinstance(body, bytes):
        if not pretty and "_elements" not in params and params.get("_summary") in (None, "false"):
            return body
        body = project(orjson.loads(body), params.get("_summary"), params.get("_elements"))
    return dumps(_project_entries(body, params), pretty=pretty)


def _project_entries(body: dict[str, Any], params: Any) -> dict[str, Any]:
    summary, elements = params.get("_summary"), params.get("_elements")
    if body.get("resourceType") != "Bundle" or (summary in (None, "false", "count") and not elements):
        return body
    # Entries embed stored JSON as orjson.Fragment, which cannot be read back: parse the Bundle once.
    body = orjson.loads(orjson.dumps(body))
    for entry in body.get("entry", []):
        resource = entry.get("resource")
        if isinstance(resource, dict):
            entry["resource"] = project(resource, summary, elements)
    return body


def prefer_return(request: Request) -> str | None:
    for part in request.headers.get("prefer", "").split(";"):
        key, _, value = part.strip().partition("=")
        if key.strip() == "return" and value.strip() in ("minimal", "representation", "OperationOutcome"):
            return value.strip()
    return None


def prefer_lenient(request: Request) -> bool:
    return "handling=lenient" in request.headers.get("prefer", "").replace(" ", "")


def fhir_base(request: Request) -> str:
    """The public base URL of the FHIR endpoint: configured, or derived from the request (once per
    request: kept in its ASGI scope)."""
    found: str | None = request.scope.get(_BASE_KEY)
    if found is None:
        configured: str | None = request.app.state.settings.base_url
        found = configured.rstrip("/") if configured else str(request.base_url).rstrip("/") + "/fhir"
        request.scope[_BASE_KEY] = found
    return found


def _location(request: Request, record: VersionRecord) -> str:
    return f"{fhir_base(request)}/{record.resource_type}/{record.id}/_history/{record.version}"


def _accepts_json(accept: str) -> bool:
    kinds = {a.split(";")[0].strip().lower() for a in accept.split(",")}
    return bool(kinds & (JSON_TYPES | {"*/*", "application/*"}))


def _too_large(limit: int) -> PayloadTooLarge:
    return PayloadTooLarge(f"The body exceeds this server's limit of {limit} bytes; split it into smaller "
                           "requests (for example several transaction Bundles).")
