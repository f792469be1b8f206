"""search at type, system and compartment level (https://hl7.org/fhir/R4/search.html), with
``_count``, cursor paging, ``_total`` and ``_summary=count``. ``_elements`` and the other
``_summary`` modes are applied by the HTTP layer to each entry."""

from __future__ import annotations

from collections.abc import Sequence

from ehr.errors import BadRequest
from ehr.fhir.bundles import bundle, full_url, link, resource_fragment
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.terminology import StoredTerminology
from ehr.search.includes import MAX_INCLUDED, MAX_ITERATIONS, Include, parse_includes
from ehr.search.paging import encode_cursor
from ehr.search.query import Compartment, Position, SearchQuery
from ehr.search.query_parse import ParseOptions, parse_search
from ehr.store.protocol import Tx
from ehr.store.records import VersionRecord


def compartment_search(ctx: Context, services: Services, tx: Tx, patient_id: str, resource_type: str | None,
                       params: Sequence[tuple[str, str]]) -> Result:
    """``GET Patient/[id]/[type]`` (``*`` for every type, ``resource_type`` None): a search restricted to
    the patient's compartment, through the Patient CompartmentDefinition's parameters
    (https://hl7.org/fhir/R4/compartmentdefinition-patient.html, https://hl7.org/fhir/R4/http.html#vsearch)."""
    registry = services.registry
    types = [resource_type] if resource_type is not None else sorted(registry.compartment)
    members = tuple((t, tuple(registry.patient_compartment(t))) for t in types if registry.patient_compartment(t))
    if not members:
        raise BadRequest(f"{resource_type} is not in the Patient compartment, so Patient/{patient_id}/"
                         f"{resource_type} has nothing to search; search {resource_type} directly.")
    path = f"Patient/{patient_id}/{resource_type or '*'}"
    return search(ctx, services, tx, resource_type, params, path=path,
                  compartment=Compartment(patient_id, members))


def search(ctx: Context, services: Services, tx: Tx, resource_type: str | None,
           params: Sequence[tuple[str, str]], *, path: str | None = None,
           compartment: Compartment | None = None) -> Result:
    options = ParseOptions(base_url=ctx.base_url, lenient=ctx.lenient, default_count=ctx.default_count,
                           blinder=services.blinder, terminology=StoredTerminology(tx), compartment=compartment)
    query = parse_search(resource_type, params, services.registry, options)
    includes, include_echo = parse_includes(resource_type, params, services.registry, lenient=ctx.lenient)
    summary = dict(params).get("_summary")
    if summary not in (None, "count", "true", "false", "text", "data"):
        raise BadRequest(f"_summary must be true, false, text, data or count, not {summary!r}.")
    if summary == "count" or query.count == 0:
        query = SearchQuery(query.resource_type, query.criteria, 0, None, "accurate", query.echo,
                            compartment=query.compartment)
    page = tx.search(query)
    path = path if path is not None else (resource_type or "")
    kept = [*query.echo, *include_echo, *_result_params(params), ("_count", str(query.count))]
    here = query.position or (Position((), query.after) if query.after is not None else None)
    links = [("self", link(ctx.base_url, path, [*kept, *_cursor(here)]))]
    if page.next is not None:
        links.append(("next", link(ctx.base_url, path, [*kept, *_cursor(page.next)])))
    if page.previous is not None:
        links.append(("previous", link(ctx.base_url, path, [*kept, *_cursor(page.previous)])))
    entries = [
        {"fullUrl": full_url(ctx.base_url, r), "resource": resource_fragment(r), "search": {"mode": "match"}}
        for r in page.records
    ]
    extra = included(tx, page.records, includes)
    entries.extend(
        {"fullUrl": full_url(ctx.base_url, r), "resource": resource_fragment(r), "search": {"mode": "include"}}
        for r in extra
    )
    return Result(200, bundle("searchset", entries, links, total=page.total), touched=(*page.records, *extra))


def included(tx: Tx, matches: Sequence[VersionRecord], includes: Sequence[Include]) -> list[VersionRecord]:
    """The resources ``includes`` add to a page of ``matches`` (none of the matches themselves, each
    once): one round over the matches, then ``:iterate`` rounds over what was added, at most
    :data:`MAX_ITERATIONS`, and at most :data:`MAX_INCLUDED` resources."""
    seen = {(r.resource_type, r.id) for r in matches}
    added: list[VersionRecord] = []
    frontier = list(matches)
    for round_ in range(MAX_ITERATIONS + 1):
        rules = [i for i in includes if i.iterate or round_ == 0]
        if not rules or not frontier:
            break
        fresh = [r for rule in rules for r in _apply(tx, frontier, rule)]
        frontier = []
        for record in fresh:
            key = (record.resource_type, record.id)
            if key not in seen and len(added) < MAX_INCLUDED:
                seen.add(key)
                added.append(record)
                frontier.append(record)
    return added


def _apply(tx: Tx, records: Sequence[VersionRecord], rule: Include) -> list[VersionRecord]:
    keys = [(r.resource_type, r.id) for r in records if rule.source is None or r.resource_type == rule.source]
    if rule.reverse:
        targets = [(r.resource_type, r.id) for r in records if rule.target in (None, r.resource_type)]
        return tx.incoming(rule.source, rule.param, targets, MAX_INCLUDED) if targets else []
    if not keys:
        return []
    targets = [t for t in tx.outgoing(keys, rule.param) if rule.target in (None, t[0])]
    return tx.read_many(targets)


def _result_params(params: Sequence[tuple[str, str]]) -> list[tuple[str, str]]:
    return [(k, v) for k, v in params if k in ("_summary", "_elements", "_total", "_sort")]


def _cursor(position: Position | None) -> list[tuple[str, str]]:
    return [] if position is None else [("_cursor", encode_cursor(position))]
