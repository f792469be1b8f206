"""FHIR RESTful routes under ``/fhir``: each translates HTTP into one interaction call and back.

Spec: https://hl7.org/fhir/R4/http.html
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import parse_qsl

from fastapi import APIRouter, Request, Response
from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor, register_url_convertor

from ehr.api import negotiation as neg
from ehr.api.bearer import authenticate
from ehr.api.smart_routes import security_of
from ehr.audit.receipts import attached
from ehr.auth.boundary import Action
from ehr.errors import BadRequest
from ehr.fhir.capability import capability_statement
from ehr.fhir.interactions import create, delete, history, patch, read, search, transaction, update
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.runner import execute
from ehr.fhir.interactions.writes import parse_etag
from ehr.fhir.jsonio import loads_object
from ehr.fhir.operations import ai_suggest, everything, match, mdm
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
    """The request context: the caller from its SMART access token, or from the development headers in
    ``--dev`` mode (``ehr.api.bearer``); a missing or invalid token is a 401."""
    neg.check_accept(request)
    settings = request.app.state.settings
    grant = authenticate(request)
    prefer = neg.prefer_return(request)
    return Context(base_url=neg.fhir_base(request), principal=grant.principal,
                   prefer_return=prefer,  # type: ignore[arg-type]
                   lenient=neg.prefer_lenient(request), default_count=settings.default_count,
                   purpose_of_use=grant.purpose_of_use, break_glass=grant.break_glass,
                   client=request.client.host if request.client else None,
                   parameters=_parameter_names(request))


_CODE = re.compile(r"[A-Za-z0-9._:@-]{1,128}")
_NOT_AUDITED = frozenset({"_format", "_pretty"})


def _parameter_names(request: Request) -> tuple[str, ...]:
    """The names of the query parameters (never their values), for the audit log."""
    names = dict.fromkeys(k for k in request.query_params if k not in _NOT_AUDITED and _CODE.fullmatch(k))
    return tuple(names)


@dataclass(frozen=True, slots=True)
class Call:
    """One request, as the routes need it: its services and context, and the type and id in its path
    (the type already checked)."""

    request: Request
    services: Services
    ctx: Context
    resource_type: str
    resource_id: str

    async def run(self, interaction: str, fn: Callable[[Tx], Result], *, write: bool,
                  prefer: bool = False) -> Response:
        """Run ``fn`` through the interaction runner in the thread pool and answer with its result."""
        result = await run_in_threadpool(execute, self.services, self.ctx, self._action(interaction), fn,
                                         write=write)
        await result.receipt.settled()
        return neg.fhir_response(self.request, result, prefer=prefer)

    async def inline(self, interaction: str, fn: Callable[[Tx], Result]) -> Response:
        """A single-resource read, run in the event loop: a thread hop would cost more than the read.
        Its audit entry is committed by the group-commit appender; the response waits for it without
        blocking the loop."""
        result = execute(self.services, self.ctx, self._action(interaction), fn, write=False)
        await result.receipt.settled()
        return neg.fhir_response(self.request, result)

    def _action(self, interaction: str) -> Action:
        return Action(interaction, self.resource_type or None, self.resource_id or None)


def call(request: Request, resource_type: str | None = None) -> Call:
    """The request's services, context, type (checked) and id."""
    resource_type = resource_type or str(request.path_params.get("resource_type", ""))
    if resource_type:
        require_type(resource_type)
    return Call(request, get_services(request), get_context(request), resource_type,
                str(request.path_params.get("resource_id", "")))


async def _body(request: Request) -> dict[str, Any]:
    return loads_object(await neg.read_body(request, request.app.state.settings.max_body_bytes))


def _pairs(request: Request) -> list[tuple[str, str]]:
    return list(request.query_params.multi_items())


@route("GET", "/metadata")
async def metadata(request: Request) -> Response:
    """The CapabilityStatement; open to everyone (SMART App Launch 2.x §Conformance: clients read it before
    they have a token)."""
    neg.check_accept(request)
    body = request.app.state.capability
    if body is None:
        routes = [(m, str(getattr(r, "path", "")).removeprefix(PREFIX))
                  for r in router.routes for m in getattr(r, "methods", ())]
        body = request.app.state.capability = capability_statement(
            get_services(request).registry, neg.fhir_base(request), routes, security_of(request))
    return neg.fhir_response(request, Result(200, body))


@route("GET", "/{resource_type:fhirtype}/{resource_id:fhirid}")
async def read_route(request: Request) -> Response:
    c = call(request)
    none_match = request.headers.get("if-none-match")
    since = _http_date(request.headers.get("if-modified-since"))
    version = parse_etag(none_match) if none_match else None
    return await c.inline("read", lambda tx: read.read(tx, c.resource_type, c.resource_id, if_none_match=version,
                                                 if_modified_since=since))


@route("GET", "/{resource_type:fhirtype}/{resource_id:fhirid}/_history/{version}")
async def vread_route(request: Request) -> Response:
    c = call(request)
    version: str = request.path_params["version"]
    if not version.isdigit():
        raise BadRequest(f"Version ids are whole numbers; {version!r} is not one.")
    return await c.inline("vread", lambda tx: read.vread(tx, c.resource_type, c.resource_id, int(version)))


@route("POST", "")
@route("POST", "/")
async def bundle(request: Request) -> Response:
    c = call(request)
    body = await _body(request)

    def run(fn: Callable[[Tx], Result], write: bool) -> Result:
        """One unit of work of the Bundle, in this worker thread: it waits here for its audit entry."""
        try:
            result = execute(c.services, c.ctx, Action(str(body.get("type")), "Bundle"), fn, write=write)
        except Exception as exc:
            attached(exc).wait()
            raise
        result.receipt.wait()
        return result

    result = await run_in_threadpool(transaction.process_bundle, c.ctx, c.services, body, run)
    return neg.fhir_response(request, result)


@route("GET", "")
@route("GET", "/")
async def search_system(request: Request) -> Response:
    c, params = call(request), _pairs(request)
    return await c.run("search-system", lambda tx: search.search(c.ctx, c.services, tx, None, params), write=False)


@route("GET", "/_history")
async def history_system(request: Request) -> Response:
    c, params = call(request), _pairs(request)
    return await c.run("history-system", lambda tx: history.history(c.ctx, tx, None, None, params), write=False)


@route("GET", "/{resource_type:fhirtype}")
async def search_type(request: Request) -> Response:
    return await _search(call(request), _pairs(request))


@route("POST", "/{resource_type:fhirtype}/_search")
async def search_post(request: Request) -> Response:
    c = call(request)
    raw = await neg.read_body(request, request.app.state.settings.max_body_bytes,
                              frozenset({"application/x-www-form-urlencoded"}))
    return await _search(c, _pairs(request) + parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))


async def _search(c: Call, pairs: list[tuple[str, str]]) -> Response:
    return await c.run("search-type", lambda tx: search.search(c.ctx, c.services, tx, c.resource_type, pairs),
                       write=False)


@route("GET", "/Patient/{resource_id:fhirid}/{compartment_type:fhirtype}")
@route("GET", "/Patient/{resource_id:fhirid}/*")
async def search_compartment(request: Request) -> Response:
    """Compartment search (https://hl7.org/fhir/R4/http.html#vsearch): ``*`` searches every type in it."""
    c, params = call(request, resource_type="Patient"), _pairs(request)
    target = request.path_params.get("compartment_type")
    if target is not None:
        require_type(str(target))
    return await c.run("search-compartment", lambda tx: search.compartment_search(
        c.ctx, c.services, tx, c.resource_id, target, params), write=False)


@route("POST", "/{resource_type:fhirtype}")
async def create_route(request: Request) -> Response:
    c, body = call(request), await _body(request)
    condition = request.headers.get("if-none-exist")
    return await c.run("create", lambda tx: create.create(c.ctx, c.services, tx, c.resource_type, body,
                                                          if_none_exist=condition), write=True, prefer=True)


@route("PUT", "/{resource_type:fhirtype}")
async def conditional_update(request: Request) -> Response:
    c, body, criteria, if_match = call(request), await _body(request), _criteria(request), _if_match(request)
    return await c.run("update", lambda tx: update.conditional_update(
        c.ctx, c.services, tx, c.resource_type, criteria, body, if_match=if_match), write=True, prefer=True)


@route("DELETE", "/{resource_type:fhirtype}")
async def conditional_delete(request: Request) -> Response:
    c, criteria = call(request), _criteria(request)
    return await c.run("delete", lambda tx: delete.conditional_delete(c.ctx, c.services, tx, c.resource_type,
                                                                      criteria), write=True)


@route("PATCH", "/{resource_type:fhirtype}")
async def conditional_patch(request: Request) -> Response:
    c, (document, kind) = call(request), await _patch_body(request)
    criteria, if_match = _criteria(request), _if_match(request)
    return await c.run("patch", lambda tx: patch.conditional_patch(
        c.ctx, c.services, tx, c.resource_type, criteria, document, kind, if_match=if_match),
        write=True, prefer=True)


@route("POST", "/{resource_type:fhirtype}/$validate")
@route("POST", "/{resource_type:fhirtype}/{resource_id:fhirid}/$validate")
async def validate_route(request: Request) -> Response:
    c, body, mode = call(request), await _body(request), request.query_params.get("mode")
    return await c.run("operation:validate", lambda _tx: validate_op.validate(
        c.resource_type, c.resource_id or None, body, mode), write=False)


@route("GET", "/Patient/{resource_id:fhirid}/$ai-suggest")
@route("POST", "/Patient/{resource_id:fhirid}/$ai-suggest")
async def ai_suggest_route(request: Request) -> Response:
    c = call(request, resource_type="Patient")
    return await c.run("operation:ai-suggest", lambda tx: ai_suggest.ai_suggest(c.services, tx, c.resource_id),
                       write=False)


@route("POST", "/Patient/$match")
async def match_route(request: Request) -> Response:
    c, body = call(request, resource_type="Patient"), await _body(request)
    return await c.run("operation:match", lambda tx: match.match(c.ctx, c.services, tx, body), write=False)


@route("GET", "/Patient/$everything")
async def everything_all_route(request: Request) -> Response:
    c, params = call(request, resource_type="Patient"), _pairs(request)
    return await c.run("operation:everything", lambda tx: everything.everything_all(c.ctx, c.services, tx, params),
                       write=False)


@route("GET", "/Patient/{resource_id:fhirid}/$everything")
async def everything_route(request: Request) -> Response:
    c, params = call(request, resource_type="Patient"), _pairs(request)
    return await c.run("operation:everything", lambda tx: everything.everything(
        c.ctx, c.services, tx, c.resource_id, params), write=False)


_MDM = {"$mdm-link": mdm.mdm_link, "$mdm-unlink": mdm.mdm_unlink, "$mdm-merge": mdm.mdm_merge,
        "$mdm-undo": mdm.mdm_undo}


@route("POST", "/Patient/$mdm-link")
@route("POST", "/Patient/$mdm-unlink")
@route("POST", "/Patient/$mdm-merge")
@route("POST", "/Patient/$mdm-undo")
async def mdm_route(request: Request) -> Response:
    """The data steward's decisions on the master patient index (``ehr.fhir.operations.mdm``)."""
    c, body = call(request, resource_type="Patient"), await _body(request)
    name = request.url.path.rsplit("/", 1)[-1]
    operation = _MDM[name]
    return await c.run(f"operation:{name[1:]}", lambda tx: operation(c.ctx, c.services, tx, body), write=True)


@route("POST", "/Task/{resource_id:fhirid}/$mdm-resolve")
async def mdm_resolve_route(request: Request) -> Response:
    c, body = call(request, resource_type="Task"), await _body(request)
    return await c.run("operation:mdm-resolve", lambda tx: mdm.mdm_resolve(c.ctx, c.services, tx, c.resource_id,
                                                                           body), write=True)


@route("GET", "/{resource_type:fhirtype}/_history")
async def history_type(request: Request) -> Response:
    c, params = call(request), _pairs(request)
    return await c.run("history-type", lambda tx: history.history(c.ctx, tx, c.resource_type, None, params),
                       write=False)


@route("PUT", "/{resource_type:fhirtype}/{resource_id:fhirid}")
async def update_route(request: Request) -> Response:
    c, body, if_match = call(request), await _body(request), _if_match(request)
    return await c.run("update", lambda tx: update.update(c.ctx, c.services, tx, c.resource_type, c.resource_id,
                                                          body, if_match=if_match), write=True, prefer=True)


@route("PATCH", "/{resource_type:fhirtype}/{resource_id:fhirid}")
async def patch_route(request: Request) -> Response:
    c, (document, kind), if_match = call(request), await _patch_body(request), _if_match(request)
    return await c.run("patch", lambda tx: patch.patch(c.ctx, c.services, tx, c.resource_type, c.resource_id,
                                                       document, kind, if_match=if_match), write=True, prefer=True)


@route("DELETE", "/{resource_type:fhirtype}/{resource_id:fhirid}")
async def delete_route(request: Request) -> Response:
    c, if_match = call(request), _if_match(request)
    return await c.run("delete", lambda tx: delete.delete(c.ctx, tx, c.resource_type, c.resource_id,
                                                          if_match=if_match), write=True)


@route("GET", "/{resource_type:fhirtype}/{resource_id:fhirid}/_history")
async def history_instance(request: Request) -> Response:
    c, params = call(request), _pairs(request)
    return await c.run("history-instance", lambda tx: history.history(c.ctx, tx, c.resource_type, c.resource_id,
                                                                      params), write=False)


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

