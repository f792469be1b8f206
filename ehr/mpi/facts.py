"""When two hospitals report the same clinical fact: the identity of a fact per resource type, so the
unified record (``$everything`` with ``_mdm=true``) shows it once.

Two resources are *identical facts* when they are of the same type, come from different hospitals
(tenants) and have equal keys, where the key is, per type:

============================  ============================================================================
Observation                   code + effective[x] + value[x] (+ each component's code and value)
Condition                     code + onset[x]
Procedure                     code + performed[x]
Immunization                  vaccineCode + occurrence[x]
MedicationRequest             medication[x] + authoredOn
AllergyIntolerance            code + onset[x] (or recordedDate when there is no onset)
DiagnosticReport              code + effective[x]
============================  ============================================================================

A code is the set of its codings' ``system|code`` pairs (equal sets, so a hospital adding a local
coding makes a different fact); times compare as UTC instants when they carry a time of day, else as
the date given; quantities compare by value (as a decimal) and unit code (else unit text). A resource
missing any part of its key is never merged; nor are two resources of one hospital (it recorded them
as two). Other types are never merged.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

Key = tuple[Any, ...]


def codes(concept: Any) -> tuple[str, ...] | None:
    if not isinstance(concept, dict):
        return None
    found = tuple(sorted(f"{c.get('system', '')}|{c['code']}" for c in concept.get("coding", [])
                         if isinstance(c, dict) and c.get("code")))
    return found or None


def instant(value: Any) -> str | None:
    """A dateTime as a UTC instant when it has a time of day and a zone; else as given."""
    if not isinstance(value, str) or not value:
        return None
    if "T" not in value:
        return value
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    return value if parsed.tzinfo is None else parsed.astimezone(UTC).isoformat()


def timing(resource: dict[str, Any], stem: str) -> Any:
    """The ``stem[x]`` time: a dateTime/instant, or a Period's start and end."""
    for suffix in ("DateTime", "Instant", "Date", ""):
        value = resource.get(stem + suffix)
        if isinstance(value, str):
            return instant(value)
    period = resource.get(stem + "Period")
    if isinstance(period, dict) and (period.get("start") or period.get("end")):
        return ("period", instant(period.get("start")), instant(period.get("end")))
    return None


def value(resource: dict[str, Any]) -> Any:
    quantity = resource.get("valueQuantity")
    if isinstance(quantity, dict):
        try:
            number = Decimal(str(quantity.get("value"))).normalize()
        except InvalidOperation:
            return None
        return ("quantity", str(number), quantity.get("code") or quantity.get("unit"))
    concept = resource.get("valueCodeableConcept")
    if concept is not None:
        return ("concept", codes(concept))
    for name, raw in resource.items():
        if name.startswith("value"):
            return (name, orjson.dumps(raw, option=orjson.OPT_SORT_KEYS).decode())
    return None


def _observation(r: dict[str, Any]) -> Key | None:
    parts = tuple(sorted((str(codes(c.get("code"))), str(value(c))) for c in r.get("component", [])
                         if isinstance(c, dict)))
    observed = value(r)
    if observed is None and not parts:
        return None
    return _all(codes(r.get("code")), timing(r, "effective"), observed if observed is not None else "-", parts)


def _allergy(r: dict[str, Any]) -> Key | None:
    return _all(codes(r.get("code")), timing(r, "onset") or instant(r.get("recordedDate")))


KEYS: dict[str, Callable[[dict[str, Any]], Key | None]] = {
    "Observation": _observation,
    "Condition": lambda r: _all(codes(r.get("code")), timing(r, "onset")),
    "Procedure": lambda r: _all(codes(r.get("code")), timing(r, "performed")),
    "Immunization": lambda r: _all(codes(r.get("vaccineCode")), timing(r, "occurrence")),
    "MedicationRequest": lambda r: _all(codes(r.get("medicationCodeableConcept"))
                                        or (r.get("medicationReference") or {}).get("reference"),
                                        instant(r.get("authoredOn"))),
    "AllergyIntolerance": _allergy,
    "DiagnosticReport": lambda r: _all(codes(r.get("code")), timing(r, "effective")),
}


def fact_key(resource: dict[str, Any]) -> Key | None:
    """The identity of the fact ``resource`` reports, None when it is never merged."""
    kind = resource.get("resourceType")
    rule = KEYS.get(str(kind))
    key = rule(resource) if rule is not None else None
    return None if key is None else (kind, *key)


def duplicates(items: Sequence[tuple[str, dict[str, Any]]]) -> dict[int, list[int]]:
    """For ``(tenant, resource)`` items in their output order: the index of each kept item that other
    hospitals reported too, with the indexes of those duplicates (which are left out)."""
    first: dict[Key, int] = {}
    out: dict[int, list[int]] = {}
    for i, (tenant, resource) in enumerate(items):
        key = fact_key(resource)
        if key is None:
            continue
        kept = first.setdefault(key, i)
        if kept != i and items[kept][0] != tenant:
            out.setdefault(kept, []).append(i)
    return out


def _all(*parts: Any) -> Key | None:
    return None if any(p is None for p in parts) else tuple(parts)
