"""history at instance, type and system level (https://hl7.org/fhir/R4/http.html#history)
with ``_since``, ``_at``, ``_count`` and cursor paging (newest first)."""

from __future__ import annotations

from collections.abc import Sequence

from ehr.errors import BadRequest, NotFound
from ehr.fhir.bundles import bundle, history_entry, link
from ehr.fhir.interactions.context import Context, Result
from ehr.search.query_parse import MAX_COUNT
from ehr.search.query_values import date_range
from ehr.store.protocol import HistoryQuery, Tx

_ALLOWED = frozenset({"_since", "_at", "_count", "_cursor", "_format", "_pretty", "_list"})


def history(ctx: Context, tx: Tx, resource_type: str | None, resource_id: str | None,
            params: Sequence[tuple[str, str]]) -> Result:
    _check_params(params, ctx.lenient)
    if resource_id is not None and resource_type is not None and tx.current(resource_type, resource_id) is None:
        raise NotFound(f"{resource_type}/{resource_id} does not exist, so it has no history.")
    values = dict(params)
    count = _int(values.get("_count"), "_count", ctx.default_count)
    query = HistoryQuery(
        resource_type=resource_type,
        id=resource_id,
        since=date_range(values["_since"], "_since")[0] if "_since" in values else None,
        at=date_range(values["_at"], "_at")[1] if "_at" in values else None,
        before_seq=_int(values["_cursor"], "_cursor", 0) if "_cursor" in values else None,
        count=min(count, MAX_COUNT) + 1,
    )
    records = tx.history(query)
    more = len(records) > min(count, MAX_COUNT)
    records = records[: min(count, MAX_COUNT)]
    path = "/".join(p for p in (resource_type, resource_id, "_history") if p)
    kept = [(k, v) for k, v in params if k in ("_since", "_at")] + [("_count", str(count))]
    links = [("self", link(ctx.base_url, path, kept + ([("_cursor", values["_cursor"])] if "_cursor" in values
                                                        else [])))]
    if more and records:
        links.append(("next", link(ctx.base_url, path, [*kept, ("_cursor", str(records[-1].seq))])))
    entries = [history_entry(ctx.base_url, r) for r in records]
    return Result(200, bundle("history", entries, links), touched=tuple(records))


def _check_params(params: Sequence[tuple[str, str]], lenient: bool) -> None:
    unknown = [k for k, _ in params if k not in _ALLOWED]
    if unknown and not lenient:
        raise BadRequest(f"History does not support the parameter(s) {', '.join(unknown)}; use _since, "
                         "_at and _count.")


def _int(raw: str | None, name: str, default: int) -> int:
    if raw is None:
        return default
    if not raw.isdigit():
        raise BadRequest(f"{name} must be a whole number, not {raw!r}.")
    if name == "_cursor" and int(raw) > 2**63 - 1:  # cursors are 64-bit sequence numbers in the store
        raise BadRequest("_cursor is not valid; follow the Bundle's next link instead of building it.")
    return int(raw)
