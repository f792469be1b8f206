"""FHIR RESTful routes under ``/fhir``: each translates HTTP into one interaction call and back.

Spec: https://hl7.org/fhir/R4/http.html
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from email.utils import parsedate_to_datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor, register_url_convertor

from ehr.api import negotiation as neg
from ehr.auth.boundary import Action, Principal
from ehr.errors import BadRequest
from ehr.fhir.capability import capability_statement
from ehr.fhir.interactions import create, delete, history, patch, read, search, transaction, update
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.runner import execute
from ehr.fhir.interactions.writes import parse_etag
from ehr.fhir.jsonio import loads_object
from ehr.fhir.operations import ai_suggest
from ehr.fhir.operations import validate as validate_op
from ehr.fhir.validation import require_type
from ehr.store.protocol import Tx

Endpoint = Callable[[Request], Awaitable[Response]]


class _TypeConvertor(StringConvertor):
    """A resource type name: https://hl7.org/fhir/R4/resource.html (names start upper-case)."""

    regex = "[A-Z][A-Za-z]{1,63}"


class _IdConvertor(StringConvertor):
    """A logical id: https://hl7.org/fhir/R4/datatypes.html#id."""

    regex = "[A-Za-z0-9.-]{1,64}"


register_url_convertor("fhirtype", _TypeConvertor())
register_url_convertor("fhirid", _IdConvertor())
router = APIRouter()
PREFIX = "/fhir"


def route(method: str, path: str) -> Callable[[Endpoint], Endpoint]:
    """Register ``endpoint`` as a plain Starlette route under /fhir: the endpoints read what they
    need from the request themselves, so FastAPI's per-request dependency solving is not needed."""

    def register(endpoint: Endpoint) -> Endpoint:
        router.add_route(PREFIX + path, endpoint, methods=[method], include_in_schema=False)
        return endpoint

    return register


def get_services(request: Request) -> Services:
    services: Services = request.app.state.services
    return services


def get_context(request: Request) -> Context:
    neg.check_accept(request)
    settings = request.app.state.settings
    tenant = request.headers.get("x-tenant") or settings.default_tenant
    prefer = neg.prefer_return(request)
    return Context(base_url=neg.fhir_base(request), principal=Principal(tenant=tenant),
                   prefer_return=prefer,  # type: ignore[arg-type]
                   lenient=neg.prefer_lenient(request), default_count=settings.default_count)


async def _run(services: Services, ctx: Context, action: Action, fn: Callable[[Tx], Result],
               write: bool) -> Result:
    return await run_in_threadpool(execute, services, ctx, action, fn, write=write)


async def _body(request: Request) -> dict[str, Any]:
    return loads_object(await neg.read_body(request, request.app.state.settings.max_body_bytes))


def _pairs(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


@route("GET", "/metadata")
async def metadata(request: Request) -> Response:
    services, ctx = get_services(request), get_context(request)
    body = request.app.state.capability
    if body is None:
        routes = [(m, str(getattr(r, "path", "")).removeprefix("/fhir"))
                  for r in router.routes for m in getattr(r, "methods", ())]
        body = request.app.state.capability = capability_statement(services.registry, ctx.base_url, routes)
    return neg.fhir_response(request, Result(200, body))


@route("GET", "/{resource_type:fhirtype}/{resource_id:fhirid}")
async def read_route(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    resource_id: str = request.path_params["resource_id"]
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    none_match = request.headers.get("if-none-match")
    since = _http_date(request.headers.get("if-modified-since"))
    version = parse_etag(none_match) if none_match else None
    result = execute(services, ctx, Action("read", resource_type, resource_id), lambda tx: read.read(
        tx, resource_type, resource_id, if_none_match=version, if_modified_since=since), write=False)
    return neg.fhir_response(request, result)


@route("GET", "/{resource_type:fhirtype}/{resource_id:fhirid}/_history/{version}")
async def vread_route(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    resource_id: str = request.path_params["resource_id"]
    version: str = request.path_params["version"]
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    if not version.isdigit():
        raise BadRequest(f"Version ids are whole numbers; {version!r} is not one.")
    result = execute(services, ctx, Action("vread", resource_type, resource_id),
                     lambda tx: read.vread(tx, resource_type, resource_id, int(version)), write=False)
    return neg.fhir_response(request, result)


@route("POST", "")
@route("POST", "/")
async def bundle(request: Request) -> Response:
    services, ctx = get_services(request), get_context(request)
    body = await _body(request)

    def run(fn: Callable[[Tx], Result], write: bool) -> Result:
        return execute(services, ctx, Action(str(body.get("type")), "Bundle"), fn, write=write)

    result = await run_in_threadpool(transaction.process_bundle, ctx, services, body, run)
    return neg.fhir_response(request, result)


@route("GET", "")
@route("GET", "/")
async def search_system(request: Request) -> Response:
    services, ctx = get_services(request), get_context(request)
    params = _pairs(request)
    result = await _run(services, ctx, Action("search-system", None),
                        lambda tx: search.search(ctx, services, tx, None, params), False)
    return neg.fhir_response(request, result)


@route("GET", "/_history")
async def history_system(request: Request) -> Response:
    services, ctx = get_services(request), get_context(request)
    params = _pairs(request)
    result = await _run(services, ctx, Action("history-system", None),
                        lambda tx: history.history(ctx, tx, None, None, params), False)
    return neg.fhir_response(request, result)


@route("GET", "/{resource_type:fhirtype}")
async def search_type(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    services, ctx = get_services(request), get_context(request)
    return await _search(request, resource_type, _pairs(request), services, ctx)


@route("POST", "/{resource_type:fhirtype}/_search")
async def search_post(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    services, ctx = get_services(request), get_context(request)
    from urllib.parse import parse_qsl

    raw = await neg.read_body(request, request.app.state.settings.max_body_bytes,
                              frozenset({"application/x-www-form-urlencoded"}))
    pairs = _pairs(request) + parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True)
    return await _search(request, resource_type, pairs, services, ctx)


async def _search(request: Request, resource_type: str, pairs: list[tuple[str, str]], services: Services,
                  ctx: Context) -> Response:
    require_type(resource_type)
    result = await _run(services, ctx, Action("search-type", resource_type),
                        lambda tx: search.search(ctx, services, tx, resource_type, pairs), False)
    return neg.fhir_response(request, result)


@route("POST", "/{resource_type:fhirtype}")
async def create_route(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    body = await _body(request)
    condition = request.headers.get("if-none-exist")
    result = await _run(services, ctx, Action("create", resource_type),
                        lambda tx: create.create(ctx, services, tx, resource_type, body, if_none_exist=condition),
                        True)
    return neg.fhir_response(request, result, prefer=True)


@route("PUT", "/{resource_type:fhirtype}")
async def conditional_update(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    body, criteria, if_match = await _body(request), _criteria(request), _if_match(request)
    result = await _run(services, ctx, Action("update", resource_type), lambda tx: update.conditional_update(
        ctx, services, tx, resource_type, criteria, body, if_match=if_match), True)
    return neg.fhir_response(request, result, prefer=True)


@route("DELETE", "/{resource_type:fhirtype}")
async def conditional_delete(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    criteria = _criteria(request)
    result = await _run(services, ctx, Action("delete", resource_type),
                        lambda tx: delete.conditional_delete(ctx, services, tx, resource_type, criteria), True)
    return neg.fhir_response(request, result)


@route("PATCH", "/{resource_type:fhirtype}")
async def conditional_patch(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    document, kind = await _patch_body(request)
    criteria, if_match = _criteria(request), _if_match(request)
    result = await _run(services, ctx, Action("patch", resource_type), lambda tx: patch.conditional_patch(
        ctx, services, tx, resource_type, criteria, document, kind, if_match=if_match), True)
    return neg.fhir_response(request, result, prefer=True)


@route("POST", "/{resource_type:fhirtype}/$validate")
@route("POST", "/{resource_type:fhirtype}/{resource_id:fhirid}/$validate")
async def validate_route(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    resource_id: str | None = request.path_params.get("resource_id")
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    body = await _body(request)
    result = await _run(services, ctx, Action("operation:validate", resource_type, resource_id),
                        lambda _tx: validate_op.validate(resource_type, resource_id, body,
                                                         request.query_params.get("mode")), False)
    return neg.fhir_response(request, result)


@route("GET", "/Patient/{resource_id:fhirid}/$ai-suggest")
@route("POST", "/Patient/{resource_id:fhirid}/$ai-suggest")
async def ai_suggest_route(request: Request) -> Response:
    resource_id: str = request.path_params["resource_id"]
    services, ctx = get_services(request), get_context(request)
    result = await _run(services, ctx, Action("operation:ai-suggest", "Patient", resource_id),
                        lambda tx: ai_suggest.ai_suggest(services, tx, resource_id), False)
    return neg.fhir_response(request, result)


@route("GET", "/{resource_type:fhirtype}/_history")
async def history_type(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    params = _pairs(request)
    result = await _run(services, ctx, Action("history-type", resource_type),
                        lambda tx: history.history(ctx, tx, resource_type, None, params), False)
    return neg.fhir_response(request, result)


@route("PUT", "/{resource_type:fhirtype}/{resource_id:fhirid}")
async def update_route(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    resource_id: str = request.path_params["resource_id"]
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    body, if_match = await _body(request), _if_match(request)
    result = await _run(services, ctx, Action("update", resource_type, resource_id), lambda tx: update.update(
        ctx, services, tx, resource_type, resource_id, body, if_match=if_match), True)
    return neg.fhir_response(request, result, prefer=True)


@route("PATCH", "/{resource_type:fhirtype}/{resource_id:fhirid}")
async def patch_route(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    resource_id: str = request.path_params["resource_id"]
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    document, kind = await _patch_body(request)
    if_match = _if_match(request)
    result = await _run(services, ctx, Action("patch", resource_type, resource_id), lambda tx: patch.patch(
        ctx, services, tx, resource_type, resource_id, document, kind, if_match=if_match), True)
    return neg.fhir_response(request, result, prefer=True)


@route("DELETE", "/{resource_type:fhirtype}/{resource_id:fhirid}")
async def delete_route(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    resource_id: str = request.path_params["resource_id"]
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    if_match = _if_match(request)
    result = await _run(services, ctx, Action("delete", resource_type, resource_id),
                        lambda tx: delete.delete(ctx, tx, resource_type, resource_id, if_match=if_match), True)
    return neg.fhir_response(request, result)


@route("GET", "/{resource_type:fhirtype}/{resource_id:fhirid}/_history")
async def history_instance(request: Request) -> Response:
    resource_type: str = request.path_params["resource_type"]
    resource_id: str = request.path_params["resource_id"]
    services, ctx = get_services(request), get_context(request)
    require_type(resource_type)
    params = _pairs(request)
    result = await _run(services, ctx, Action("history-instance", resource_type, resource_id),
                        lambda tx: history.history(ctx, tx, resource_type, resource_id, params), False)
    return neg.fhir_response(request, result)


async def _patch_body(request: Request) -> tuple[Any, patch.PatchKind]:
    import orjson

    raw = await neg.read_body(request, request.app.state.settings.max_body_bytes, neg.PATCH_TYPES)
    if neg.media_type(request) == "application/json-patch+json":
        try:
            return orjson.loads(raw), "json-patch"
        except orjson.JSONDecodeError as exc:
            raise BadRequest(f"The JSON Patch is not valid JSON ({exc}).") from None
    return loads_object(raw), "fhirpath-patch"


def _criteria(request: Request) -> str:
    query = request.url.query
    if not query:
        raise BadRequest("A conditional interaction needs search criteria in the query string.")
    return query


def _if_match(request: Request) -> int | None:
    return parse_etag(request.headers.get("if-match"))


def _http_date(value: str | None) -> int | None:
    if not value:
        return None
    try:
        return int(parsedate_to_datetime(value).timestamp() * 1_000_000)
    except (TypeError, ValueError):
        raise BadRequest(f"If-Modified-Since {value!r} is not an HTTP date.") from None

