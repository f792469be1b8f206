"""Date values: date, dateTime, instant, Period and Timing as closed ranges of microseconds (UTC).

A value stands for the whole interval its precision implies: ``2020`` is
[2020-01-01T00:00:00, 2020-12-31T23:59:59.999999], ``2020-03-04T10:11:12.5Z`` is
[..12.500000, ..12.599999].  A date or dateTime written without a timezone is taken as UTC (the
specification leaves it to the server; see https://hl7.org/fhir/R4/search.html#date).  A Period with
no start or end is open on that side (:data:`DATE_MIN` / :data:`DATE_MAX`); a Timing indexes the outer
limits of its events and ``repeat.boundsPeriod``.

Spec: https://hl7.org/fhir/R4/search.html#date, https://hl7.org/fhir/R4/datatypes.html#dateTime
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from datetime import date
from typing import Any

from ehr.search.index_rows import DateRow

MICROS = 1_000_000
_EPOCH = date(1970, 1, 1).toordinal()
#: the lowest and highest representable instants: 0001-01-01T00:00:00 and 9999-12-31T23:59:59.999999
DATE_MIN = (date(1, 1, 1).toordinal() - _EPOCH) * 86_400 * MICROS
DATE_MAX = (date(9999, 12, 31).toordinal() + 1 - _EPOCH) * 86_400 * MICROS - 1

_DATETIME = re.compile(
    r"(?P<y>\d{4})(?:-(?P<m>\d{2})(?:-(?P<d>\d{2})(?:T(?P<H>\d{2}):(?P<M>\d{2})(?::(?P<S>\d{2})"
    r"(?:\.(?P<f>\d+))?)?(?P<tz>Z|[+-]\d{2}:\d{2})?)?)?)?"
)


def _day_micros(ordinal: int) -> int:
    return (ordinal - _EPOCH) * 86_400 * MICROS


def _offset_micros(tz: str | None) -> int:
    if tz is None or tz == "Z":
        return 0
    sign = -1 if tz[0] == "-" else 1
    return sign * (int(tz[1:3]) * 3600 + int(tz[4:6]) * 60) * MICROS


def _first_day_after(year: int, month: int | None) -> int:
    """Ordinal of the day after the given year (or month); past 9999-12-31 when that is the end."""
    if month is None or month == 12:
        return date(year + 1, 1, 1).toordinal() if year < date.max.year else date.max.toordinal() + 1
    return date(year, month + 1, 1).toordinal()


def _date_only_range(year: int, month: str | None, day: str | None) -> tuple[int, int]:
    if month is None:
        return _day_micros(date(year, 1, 1).toordinal()), _day_micros(_first_day_after(year, None)) - 1
    first = date(year, int(month), 1)
    if day is None:
        return _day_micros(first.toordinal()), _day_micros(_first_day_after(year, first.month)) - 1
    start = date(year, int(month), int(day)).toordinal()
    return _day_micros(start), _day_micros(start + 1) - 1


@functools.lru_cache(maxsize=65_536)
def date_range(text: str) -> tuple[int, int] | None:
    """The [low, high] microsecond range a date/dateTime/instant string denotes, or None if invalid.

    Cached: the same timestamp recurs across a resource's elements and a bundle's resources."""
    match = _DATETIME.fullmatch(text)
    if match is None:
        return None
    g = match.groupdict()
    try:
        low, high = _date_only_range(int(g["y"]), g["m"], g["d"])
        if g["H"] is None:
            return low, high
        hour, minute, second = int(g["H"]), int(g["M"]), int(g["S"] or 0)
        if hour > 23 or minute > 59 or second > 60:
            return None
    except ValueError:
        return None
    fraction = (g["f"] or "")[:6]
    start = low + ((hour * 60 + minute) * 60 + second) * MICROS - _offset_micros(g["tz"])
    start += int(fraction.ljust(6, "0")) if fraction else 0
    step = 60 * MICROS if g["S"] is None else 10 ** (6 - len(fraction)) if fraction else MICROS
    return start, start + step - 1


def dates_from_datetime(param: str, value: Any) -> list[DateRow]:
    """date / dateTime / instant -> one range row."""
    found = date_range(value) if isinstance(value, str) else None
    return [DateRow(param, *found)] if found else []


def period_range(value: Any) -> tuple[int, int] | None:
    """Period -> [low of start, high of end], open-ended where a side is missing."""
    if not isinstance(value, Mapping):
        return None
    start = value.get("start")
    end = value.get("end")
    low = date_range(start) if isinstance(start, str) else None
    high = date_range(end) if isinstance(end, str) else None
    if low is None and high is None:
        return None
    return (low[0] if low else DATE_MIN), (high[1] if high else DATE_MAX)


def dates_from_period(param: str, value: Any) -> list[DateRow]:
    """Period -> one range row (https://hl7.org/fhir/R4/search.html#date)."""
    found = period_range(value)
    return [DateRow(param, *found)] if found else []


def dates_from_timing(param: str, value: Any) -> list[DateRow]:
    """Timing -> one row spanning all ``event`` values and ``repeat.boundsPeriod``."""
    if not isinstance(value, Mapping):
        return []
    events = value.get("event")
    ranges = [date_range(e) for e in (events if isinstance(events, list) else ()) if isinstance(e, str)]
    repeat = value.get("repeat")
    if isinstance(repeat, Mapping):
        ranges.append(period_range(repeat.get("boundsPeriod")))
    found = [r for r in ranges if r is not None]
    if not found:
        return []
    return [DateRow(param, min(r[0] for r in found), max(r[1] for r in found))]
