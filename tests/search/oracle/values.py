"""Typed search values of one resource, read from its raw JSON by evaluating the SearchParameter's
FHIRPath expression with fhirpathpy, and the value shapes the matching rules compare.

Written apart from ``ehr.search.extract`` and ``ehr.search.values`` on purpose: the oracle must not share
code with what it checks. Dates are converted with :mod:`datetime`; strings are folded with
:mod:`unicodedata`. Spec: https://hl7.org/fhir/R4/search.html#ptypes
"""

from __future__ import annotations

import functools
import re
import unicodedata
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import fhirpathpy
from fhirpathpy.models import models

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
US = timedelta(microseconds=1)


@dataclass(frozen=True)
class Token:
    system: str | None
    code: str | None


@dataclass(frozen=True)
class Ref:
    type: str | None
    id: str | None
    url: str | None


@dataclass(frozen=True)
class Interval:
    """A closed interval of microseconds (dates) or numbers; ``point`` is the value as written (numbers)."""

    low: Decimal
    high: Decimal
    point: Decimal | None = None


@dataclass(frozen=True)
class Amount:
    value: Interval
    system: str | None
    code: str | None


def fold(text: str) -> str:
    """Case and accent insensitive form (https://hl7.org/fhir/R4/search.html#string)."""
    return "".join(c for c in unicodedata.normalize("NFD", text) if not unicodedata.combining(c)).casefold()


_DATE = re.compile(r"(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?"
                   r"(Z|[+-]\d{2}:\d{2})?)?)?)?")


def date_interval(text: str) -> Interval | None:
    """The microseconds a date, dateTime or instant covers, by its precision; no zone means UTC."""
    m = _DATE.fullmatch(text)
    if m is None:
        return None
    y, mo, d, hh, mi, ss, frac, tz = m.groups()
    if mo is None:
        start, end = datetime(int(y), 1, 1, tzinfo=UTC), datetime(int(y) + 1, 1, 1, tzinfo=UTC)
    elif d is None:
        start = datetime(int(y), int(mo), 1, tzinfo=UTC)
        end = datetime(int(y) + int(mo) // 12, int(mo) % 12 + 1, 1, tzinfo=UTC)
    elif hh is None:
        start = datetime(int(y), int(mo), int(d), tzinfo=UTC)
        end = start + timedelta(days=1)
    else:
        offset = timedelta(0)
        if tz and tz != "Z":
            offset = timedelta(hours=int(tz[1:3]), minutes=int(tz[4:6])) * (-1 if tz[0] == "-" else 1)
        start = datetime(int(y), int(mo), int(d), int(hh), int(mi), int(ss or 0), tzinfo=UTC) - offset
        if ss is None:
            end = start + timedelta(minutes=1)
        elif frac:
            start += timedelta(microseconds=int(frac[:6].ljust(6, "0")))
            end = start + timedelta(microseconds=10 ** (6 - min(len(frac), 6)))
        else:
            end = start + timedelta(seconds=1)
    return Interval(Decimal((start - EPOCH) // US), Decimal((end - EPOCH) // US - 1))


def number_interval(value: Any) -> Interval | None:
    """A number as written: its point, and the range half a unit of its last digit either side."""
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal | str):
        return None
    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
    half = Decimal(5).scaleb(number.as_tuple().exponent - 1)  # type: ignore[operator]
    return Interval(number - half, number + half, number)


@functools.cache
def _compiled(expression: str) -> Any:
    return fhirpathpy.compile(expression, model=models["r4"])


def evaluate(resource: dict[str, Any], expression: str) -> list[Any]:
    """The nodes an R4 SearchParameter expression selects in ``resource``. fhirpathpy has no
    ``resolve()``, so ``where(resolve() is T)`` is read as a literal reference to a ``T``; expressions
    on ``Resource`` are evaluated on the resource's own type."""
    text = re.sub(r"where\(resolve\(\) is (\w+)\)", r"where(reference.startsWith('\1/'))", expression)
    text = re.sub(r"\b(?:Domain)?Resource\.", resource["resourceType"] + ".", text)
    return [v for v in _compiled(text)(resource, {}) if v is not None]


_NAME_PARTS = ("text", "family", "given", "prefix", "suffix")
_ADDRESS_PARTS = ("text", "line", "city", "district", "state", "postalCode", "country")


def strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if not isinstance(node, dict):
        return []
    parts = _ADDRESS_PARTS if any(k in node for k in ("line", "city", "postalCode", "country")) else _NAME_PARTS
    out: list[str] = []
    for part in parts:
        found = node.get(part)
        out.extend(found if isinstance(found, list) else [found] if isinstance(found, str) else [])
    return out


def tokens(node: Any) -> list[Token]:
    if isinstance(node, bool):
        return [Token(None, "true" if node else "false")]
    if isinstance(node, str):
        return [Token(None, node)]
    if not isinstance(node, dict):
        return []
    if "value" in node:  # Identifier or ContactPoint
        return [Token(node.get("system"), node["value"])]
    if "coding" in node or ("text" in node and "code" not in node):
        codings = [c for c in node.get("coding", []) if c.get("code") or c.get("system")]
        found = [Token(c.get("system"), c.get("code")) for c in codings]
        return found or ([Token(None, None)] if node.get("text") else [])
    return [Token(node.get("system"), node.get("code"))]


def texts(node: Any) -> list[str]:
    """What ``:text`` on a token searches (https://hl7.org/fhir/R4/search.html#token: "either
    CodeableConcept.text, Coding.display, or Identifier.type.text"): all of those a value has."""
    if not isinstance(node, dict):
        return []
    if "value" in node:  # Identifier (a ContactPoint has no type)
        found = [(node.get("type") or {}).get("text")]
    else:  # CodeableConcept: its text and every coding's display; Coding: its display
        codings = node.get("coding", [])
        found = [node.get("text"), node.get("display"), *(c.get("display") for c in codings if isinstance(c, dict))]
    return [t for t in found if isinstance(t, str) and t.strip()]


def displays(node: Any) -> list[str]:
    """What ``:text`` on a reference searches: Reference.display (https://hl7.org/fhir/R5/search.html#modifiers;
    R4 has no ``:text`` on references)."""
    display = node.get("display") if isinstance(node, dict) else None
    return [display] if isinstance(display, str) and display.strip() else []


_REFERENCE = re.compile(r"(?:(?P<base>https?://.+)/)?(?P<type>[A-Z][A-Za-z]+)/(?P<id>[A-Za-z0-9.\-]+)")


def references(node: Any) -> list[Ref]:
    text = node.get("reference") if isinstance(node, dict) else node
    if not isinstance(text, str) or text.startswith("#"):
        return []
    m = _REFERENCE.fullmatch(text)
    if m is None:
        return [Ref(None, None, text)]
    return [Ref(m["type"], m["id"], text if m["base"] else None)]


def dates(node: Any) -> list[Interval]:
    if isinstance(node, str):
        found = date_interval(node)
        return [found] if found else []
    if isinstance(node, dict) and ("start" in node or "end" in node):
        start = date_interval(node["start"]) if "start" in node else None
        end = date_interval(node["end"]) if "end" in node else None
        low = start.low if start else Decimal("-Infinity")
        high = end.high if end else Decimal("Infinity")
        return [Interval(low, high)]
    return []


def _range_of(node: dict[str, Any]) -> Interval | None:
    low = number_interval((node.get("low") or {}).get("value"))
    high = number_interval((node.get("high") or {}).get("value"))
    if low is None and high is None:
        return None
    return Interval(low.point if low and low.point is not None else Decimal("-Infinity"),
                    high.point if high and high.point is not None else Decimal("Infinity"))


def numbers(node: Any) -> list[Interval]:
    if isinstance(node, dict):
        found = _range_of(node)
        return [found] if found else []
    found = number_interval(node)
    return [found] if found else []


def amounts(node: Any) -> list[Amount]:
    if not isinstance(node, dict):
        return []
    if "low" in node or "high" in node:
        side = node.get("low") or node.get("high") or {}
        found = _range_of(node)
        return [Amount(found, side.get("system"), side.get("code") or side.get("unit"))] if found else []
    value = number_interval(node.get("value"))
    if value is None:
        return []
    comparator = node.get("comparator")
    if comparator in ("<", "<="):  # a range open below: matched as a range, not as a point
        value = Interval(Decimal("-Infinity"), value.high if value.point is None else value.point)
    elif comparator in (">", ">="):
        value = Interval(value.low if value.point is None else value.point, Decimal("Infinity"))
    return [Amount(value, node.get("system"), node.get("code") or node.get("unit"))]
