"""Parsing one search value by parameter type: escapes, prefixes and the ranges implied by precision.

Spec: https://hl7.org/fhir/R4/search.html#escaping, #prefix, #date, #number, #quantity, #token
"""

from __future__ import annotations

import re
import unicodedata
from calendar import monthrange
from datetime import UTC, datetime, timedelta, timezone, tzinfo
from decimal import Decimal, InvalidOperation
from typing import get_args

from ehr.errors import BadRequest
from ehr.search.query import Prefix, RangeValue, ReferenceValue, StringValue, TokenValue

PREFIXES: frozenset[str] = frozenset(get_args(Prefix))
_DATE = re.compile(
    r"^(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2})"
    r"(?::(?P<S>\d{2})(?:\.(?P<f>\d{1,9}))?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?$"
)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


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


def fold(text: str) -> str:
    """Case- and accent-fold a string the way string index values are stored."""
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


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
    """The [low, high] microsecond range a date/dateTime/instant of any precision covers."""
    match = _DATE.match(text)
    if match is None:
        raise BadRequest(
            f"Search parameter '{param}': '{text}' is not a FHIR date; use YYYY, YYYY-MM, YYYY-MM-DD or "
            "YYYY-MM-DDThh:mm:ss[.fff](Z|+hh:mm), optionally after a prefix such as ge or lt."
        )
    try:
        start, end = _bounds(match)
    except ValueError as exc:
        raise BadRequest(f"Search parameter '{param}': '{text}' is not a real date ({exc}).") from None
    return _micros(start), _micros(end) - 1


def parse_number(raw: str, param: str) -> RangeValue:
    prefix, text = split_prefix(raw)
    low, high = number_range(text, param)
    return RangeValue(prefix, low, high)


def parse_quantity(raw: str, param: str) -> RangeValue:
    parts = split_unescaped(raw, "|")
    prefix, text = split_prefix(parts[0])
    low, high = number_range(text, param)
    system = parts[1] if len(parts) > 1 and parts[1] else None
    code = parts[2] if len(parts) > 2 and parts[2] else None
    return RangeValue(prefix, low, high, system=system, code=code)


def number_range(text: str, param: str) -> tuple[float, float]:
    """``100`` means [99.5, 100.5): half a unit of the last significant digit either side."""
    try:
        number = Decimal(text)
    except InvalidOperation:
        raise BadRequest(f"Search parameter '{param}': '{text}' is not a number.") from None
    if not number.is_finite():
        raise BadRequest(f"Search parameter '{param}': '{text}' is not a finite number.")
    exponent = number.as_tuple().exponent
    half = Decimal(5).scaleb(int(exponent) - 1)
    return float(number - half), float(number + half)


def _bounds(match: re.Match[str]) -> tuple[datetime, datetime]:
    g = match.groupdict()
    tz = _tz(g["tz"])
    year = int(g["y"])
    if g["m"] is None:
        return datetime(year, 1, 1, tzinfo=tz), datetime(year + 1, 1, 1, tzinfo=tz)
    month = int(g["m"])
    if g["d"] is None:
        start = datetime(year, month, 1, tzinfo=tz)
        return start, start + timedelta(days=monthrange(year, month)[1])
    day = datetime(year, month, int(g["d"]), tzinfo=tz)
    if g["H"] is None:
        return day, day + timedelta(days=1)
    start = day.replace(hour=int(g["H"]), minute=int(g["M"]))
    if g["S"] is None:
        return start, start + timedelta(minutes=1)
    start = start.replace(second=int(g["S"]))
    if g["f"] is None:
        return start, start + timedelta(seconds=1)
    digits = g["f"][:6]
    start = start.replace(microsecond=int(digits.ljust(6, "0")))
    return start, start + timedelta(microseconds=10 ** (6 - len(digits)))


def _tz(text: str | None) -> tzinfo:
    if text is None or text == "Z":
        return UTC
    sign = -1 if text[0] == "-" else 1
    hours, minutes = int(text[1:3]), int(text[4:6])
    return timezone(sign * timedelta(hours=hours, minutes=minutes))


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _split_first_pipe(raw: str) -> tuple[str, str, str]:
    parts = split_unescaped(raw, "|")
    return unescape(parts[0]), "|", unescape("|".join(parts[1:]))


