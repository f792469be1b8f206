"""search at type, system and compartment level (https://hl7.org/fhir/R4/search.html), with
``_count``, cursor paging, ``_total`` and ``_summary=count``. ``_elements`` and the other
``_summary`` modes are applied by the HTTP layer to each entry."""

from __future__ import annotations

from collections.abc import Sequence

from ehr.errors import BadRequest
from ehr.fhir.bundles import bundle, full_url, link, resource_fragment
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.search.query import SearchQuery
from ehr.search.query_parse import ParseOptions, parse_search
from ehr.store.protocol import Tx


def search(ctx: Context, services: Services, tx: Tx, resource_type: str | None,
           params: Sequence[tuple[str, str]], *, path: str | None = None) -> Result:
    options = ParseOptions(base_url=ctx.base_url, lenient=ctx.lenient, default_count=ctx.default_count)
    query = parse_search(resource_type, params, services.registry, options)
    summary = dict(params).get("_summary")
    if summary not in (None, "count", "true", "false", "text", "data"):
        raise BadRequest(f"_summary must be true, false, text, data or count, not {summary!r}.")
    if summary == "count" or query.count == 0:
        query = SearchQuery(query.resource_type, query.criteria, 0, None, "accurate", query.echo)
    page = tx.search(query)
    path = path if path is not None else (resource_type or "")
    kept = [*query.echo, *_result_params(params), ("_count", str(query.count))]
    links = [("self", link(ctx.base_url, path, [*kept, *_cursor(query.after)]))]
    if page.next_cursor is not None:
        links.append(("next", link(ctx.base_url, path, [*kept, ("_cursor", page.next_cursor)])))
    entries = [
        {"fullUrl": full_url(ctx.base_url, r), "resource": resource_fragment(r), "search": {"mode": "match"}}
        for r in page.records
    ]
    return Result(200, bundle("searchset", entries, links, total=page.total), touched=tuple(page.records))


def _result_params(params: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params if k in ("_summary", "_elements", "_total")]


def _cursor(after: int | None) -> list[tuple[str, str]]:
    return [] if after is None else [("_cursor", str(after))]
