"""Parsing one search value by parameter type: escapes, prefixes and the ranges implied by precision.

Spec: https://hl7.org/fhir/R4/search.html#escaping, #prefix, #date, #number, #quantity, #token
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import get_args

from ehr.errors import BadRequest
from ehr.search.query import (
    NumberValue,
    ParamType,
    Prefix,
    RangeValue,
    ReferenceValue,
    StringValue,
    TokenValue,
    UriValue,
    Value,
)
from ehr.search.values.dates import date_range as values_date_range
from ehr.search.values.strings import fold

PREFIXES: frozenset[str] = frozenset(get_args(Prefix))


def parse_value(kind: ParamType, part: str, name: str, base_url: str) -> Value:
    """One (comma-separated) value of a parameter of type ``kind`` (composites: see query_modifiers)."""
    parsers: dict[str, Callable[[], Value]] = {
        "token": lambda: parse_token(part),
        "id": lambda: parse_token(part),
        "string": lambda: parse_string(part),
        "reference": lambda: parse_reference(part, base_url),
        "date": lambda: parse_date(part, name),
        "lastUpdated": lambda: parse_date(part, name),
        "number": lambda: parse_number(part, name),
        "quantity": lambda: parse_quantity(part, name),
        "uri": lambda: UriValue(unescape(part)),
    }
    return parsers[kind]()


def split_unescaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` where no backslash escapes it; ``\\sep`` becomes ``sep``, other escapes stay."""
    parts: list[str] = []
    current: list[str] = []
    i = 0
    while i < len(text):
        ch = text[i]
        if ch == "\\" and i + 1 < len(text):
            nxt = text[i + 1]
            current.append(nxt if nxt == sep else ch + nxt)
            i += 2
            continue
        if ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
        i += 1
    parts.append("".join(current))
    return parts


def unescape(text: str) -> str:
    """Remove the search escapes ``\\, \\| \\$ \\\\``."""
    return re.sub(r"\\([,|$\\])", r"\1", text)


def parse_token(raw: str) -> TokenValue:
    if "|" not in raw.replace("\\|", ""):
        return TokenValue(system=None, code=unescape(raw) or None)
    system, _, code = _split_first_pipe(raw)
    return TokenValue(system=system, code=code or None)


def parse_string(raw: str) -> StringValue:
    value = unescape(raw)
    return StringValue(norm=fold(value), exact=value)


def parse_reference(raw: str, base_url: str) -> ReferenceValue:
    value = unescape(raw)
    if value.startswith(base_url.rstrip("/") + "/"):
        value = value[len(base_url.rstrip("/")) + 1:]
    if "://" in value or value.startswith("urn:"):
        parts = value.rstrip("/").split("/")
        if len(parts) >= 2 and parts[-2][:1].isupper():
            return ReferenceValue(parts[-2], parts[-1], url=value)
        return ReferenceValue(None, None, url=value)
    pieces = value.split("/")
    if len(pieces) == 2:
        return ReferenceValue(pieces[0], pieces[1])
    if len(pieces) == 4 and pieces[2] == "_history":
        return ReferenceValue(pieces[0], pieces[1])
    return ReferenceValue(None, value)


def split_prefix(raw: str) -> tuple[Prefix, str]:
    head = raw[:2]
    if head in PREFIXES and len(raw) > 2 and not raw[2:3].isalpha():
        return head, raw[2:]  # type: ignore[return-value]
    return "eq", raw


def parse_date(raw: str, param: str) -> RangeValue:
    prefix, text = split_prefix(raw)
    low, high = date_range(text, param)
    return RangeValue(prefix, float(low), float(high))


def date_range(text: str, param: str) -> tuple[int, int]:
    """The [low, high] microsecond range a search date of any precision covers — computed by the same
    function that indexes stored dates, so search values and index rows always agree."""
    found = values_date_range(text)
    if found is None:
        raise BadRequest(
            f"Search parameter '{param}': '{text}' is not a FHIR date; use YYYY, YYYY-MM, YYYY-MM-DD or "
            "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm), optionally after a prefix such as ge or lt."
        )
    return found


def parse_number(raw: str, param: str) -> NumberValue:
    prefix, text = split_prefix(raw)
    return NumberValue(prefix, *number_range(text, param))


def parse_quantity(raw: str, param: str) -> NumberValue:
    parts = split_unescaped(raw, "|")
    prefix, text = split_prefix(parts[0])
    system = parts[1] if len(parts) > 1 and parts[1] else None
    code = parts[2] if len(parts) > 2 and parts[2] else None
    return NumberValue(prefix, *number_range(text, param), system=system, code=code)


def number_range(text: str, param: str) -> tuple[float, float, float]:
    """The number and its implicit range: ``100`` is 100 in [99.5, 100.5), half a unit of the last
    significant digit either side; ``1.00e2`` is [99.5, 100.5) too, ``2.5e-1`` [0.245, 0.255)
    (https://hl7.org/fhir/R4/search.html#number)."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BadRequest(f"Search parameter '{param}': '{text}' is not a number; write it as 100, 0.25, -3 "
                         "or 2.5e-1, optionally after a prefix such as gt or le.") from None
    if not number.is_finite():
        raise BadRequest(f"Search parameter '{param}': '{text}' is not a finite number; write it as 100, "
                         "0.25, -3 or 2.5e-1.")
    half = Decimal(5).scaleb(int(number.as_tuple().exponent) - 1)
    return float(number), float(number - half), float(number + half)


def _split_first_pipe(raw: str) -> tuple[str, str, str]:
    parts = split_unescaped(raw, "|")
    return unescape(parts[0]), "|", unescape("|".join(parts[1:]))
