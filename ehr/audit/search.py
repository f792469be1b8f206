"""Search of the audit log through FHIR: ``GET /fhir/AuditEvent?patient=&date=&agent=&action=&outcome=``
with ``_count`` and cursor paging, answered from the log's indexed columns with the stored AuditEvents,
newest first. Only data officers may search (``ehr.auth.audit_access``); the search is itself audited
by the runner, like every interaction.

- ``patient``: ``Patient/123`` (or ``123``, or an absolute URL);
- ``agent``: the user's identifier (the principal's subject), optionally as ``urn:ehr:subject|id``;
- ``action``: C, R, U, D, E; ``outcome``: 0, 4, 8, 12;
- ``date``: ``recorded``, with the prefixes eq, ge, le, gt, lt (repeat it for a range).

A comma separates alternatives (OR); repeated parameters must all hold (AND). An officer sees the
entries of their own hospital's users and those about their hospital's patients.

Spec: https://hl7.org/fhir/R4/auditevent.html#search, https://hl7.org/fhir/R4/search.html
"""

from __future__ import annotations

from collections.abc import Sequence

import orjson

from ehr.audit.boundary import AuditSearch
from ehr.audit.query import AuditQuery
from ehr.errors import BadRequest, NotFound, ServiceUnavailable
from ehr.fhir.bundles import bundle, link
from ehr.fhir.interactions.context import Context, Result
from ehr.search.query import RangeValue
from ehr.search.query_parse import MAX_COUNT
from ehr.search.query_values import date_range, split_prefix

PARAMETERS = ("patient", "agent", "action", "outcome", "date")
_IGNORED = frozenset({"_format", "_pretty"})
_ACTIONS = frozenset("CRUDE")
_OUTCOMES = frozenset({"0", "4", "8", "12"})
_DATE_PREFIXES = frozenset({"eq", "ge", "le", "gt", "lt"})
_PATH = "AuditEvent"


def search_audit(ctx: Context, log: AuditSearch | None, params: Sequence[tuple[str, str]]) -> Result:
    query = parse_audit_query(ctx, params)
    found = _log(log).search(query)
    more = len(found) > query.count
    found = found[:query.count]
    kept = [(k, v) for k, v in params if k in PARAMETERS] + [("_count", str(query.count))]
    cursor = [("_cursor", str(query.before_seq))] if query.before_seq is not None else []
    links = [("self", link(ctx.base_url, _PATH, kept + cursor))]
    if more and found:
        links.append(("next", link(ctx.base_url, _PATH, [*kept, ("_cursor", str(found[-1][0]))])))
    entries = [{"fullUrl": f"{ctx.base_url}/AuditEvent/{seq}", "resource": orjson.Fragment(event),
                "search": {"mode": "match"}} for seq, event in found]
    return Result(200, bundle("searchset", entries, links))


def read_audit_event(ctx: Context, log: AuditSearch | None, event_id: str) -> Result:
    """One AuditEvent by id (its seq)."""
    found = _log(log).search(AuditQuery(ctx.tenant, seq=int(event_id), count=1)) if event_id.isdigit() else []
    if not found:
        raise NotFound(f"AuditEvent/{event_id} is not in this hospital's audit log; search GET AuditEvent?... "
                       "to find entries.")
    return Result(200, found[0][1])


def parse_audit_query(ctx: Context, params: Sequence[tuple[str, str]]) -> AuditQuery:
    sets: dict[str, set[str]] = {}
    dates: list[RangeValue] = []
    count, cursor = ctx.default_count, None
    for name, value in params:
        if name == "date":
            dates.append(_date(value))
        elif name in PARAMETERS:
            values = {_normalise(name, v) for v in value.split(",") if v}
            sets[name] = sets[name] & values if name in sets else values
        elif name == "_count":
            count = min(_whole(value, name), MAX_COUNT)
        elif name == "_cursor":
            cursor = _whole(value, name)
        elif name not in _IGNORED and not ctx.lenient:
            raise BadRequest(f"AuditEvent search does not support {name!r}; use {', '.join(PARAMETERS)}, _count.")
    if any(not alternatives for alternatives in sets.values()):
        count = 0  # AND of alternatives that exclude each other: nothing matches
    chosen = {name: tuple(sorted(sets.get(name, ()))) for name in ("patient", "agent", "action", "outcome")}
    return AuditQuery(ctx.tenant, chosen["patient"], chosen["agent"], chosen["action"], chosen["outcome"],
                      tuple(dates), cursor, count)


def _normalise(name: str, value: str) -> str:
    if name == "patient":
        tail = value.rsplit("/", 2)
        patient_id = tail[-1]
        if len(tail) > 1 and tail[-2] != "Patient":
            raise BadRequest(f"patient={value!r} is not a Patient reference; use Patient/<id>.")
        return f"Patient/{patient_id}"
    if name == "agent":
        return value.rpartition("|")[2]
    if name == "action" and value not in _ACTIONS:
        raise BadRequest(f"action={value!r}: AuditEvent.action is one of C, R, U, D, E.")
    if name == "outcome" and value not in _OUTCOMES:
        raise BadRequest(f"outcome={value!r}: AuditEvent.outcome is one of 0, 4, 8, 12.")
    return value


def _date(raw: str) -> RangeValue:
    prefix, text = split_prefix(raw)
    if prefix not in _DATE_PREFIXES:
        raise BadRequest(f"date={raw!r}: the AuditEvent date accepts the prefixes eq, ge, le, gt and lt.")
    low, high = date_range(text, "date")
    return RangeValue(prefix, low, high)


def _whole(raw: str, name: str) -> int:
    if not raw.isdigit() or int(raw) > 2**63 - 1:
        raise BadRequest(f"{name} must be a whole number, not {raw!r}; follow the Bundle's next link.")
    return int(raw)


def _log(log: AuditSearch | None) -> AuditSearch:
    if log is None:
        raise ServiceUnavailable("The audit log is switched off on this server; start it with audit on to "
                                 "search AuditEvents.")
    return log
