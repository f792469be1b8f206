"""Date value functions (https://hl7.org/fhir/R4/search.html#date)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ehr.search.index_rows import DateRow
from ehr.search.values.dates import (
    DATE_MAX,
    DATE_MIN,
    date_range,
    dates_from_datetime,
    dates_from_period,
    dates_from_timing,
)


def micros(text: str) -> int:
    """Microseconds since the epoch of a naive ISO timestamp read as UTC (the oracle)."""
    moment = datetime.fromisoformat(text).replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)


@pytest.mark.parametrize(
    ("text", "low", "high"),
    [
        ("2020", "2020-01-01T00:00:00", "2020-12-31T23:59:59.999999"),
        ("2020-02", "2020-02-01T00:00:00", "2020-02-29T23:59:59.999999"),
        ("2019-12", "2019-12-01T00:00:00", "2019-12-31T23:59:59.999999"),
        ("2020-03-04", "2020-03-04T00:00:00", "2020-03-04T23:59:59.999999"),
        ("2020-03-04T10:11:12Z", "2020-03-04T10:11:12", "2020-03-04T10:11:12.999999"),
        ("2020-03-04T10:11:12.5+01:00", "2020-03-04T09:11:12.5", "2020-03-04T09:11:12.599999"),
        ("2020-03-04T10:11:12.123456789-05:00", "2020-03-04T15:11:12.123456", "2020-03-04T15:11:12.123456"),
        ("2020-03-04T10:11:12", "2020-03-04T10:11:12", "2020-03-04T10:11:12.999999"),
    ],
)
def test_precision_ranges(text: str, low: str, high: str) -> None:
    assert date_range(text) == (micros(low), micros(high))


@pytest.mark.parametrize("text", ["2020-02-30", "2020-13", "20", "2020-03-04T25:00:00Z", "yesterday", ""])
def test_invalid_values_give_no_range(text: str) -> None:
    assert date_range(text) is None
    assert dates_from_datetime("date", text) == []


def test_period_is_open_where_a_side_is_missing() -> None:
    assert dates_from_period("date", {"start": "2020", "end": "2021-06"}) == [
        DateRow("date", micros("2020-01-01T00:00:00"), micros("2021-06-30T23:59:59.999999"))
    ]
    assert dates_from_period("date", {"start": "2020"})[0].high == DATE_MAX
    assert dates_from_period("date", {"end": "2020"})[0].low == DATE_MIN
    assert dates_from_period("date", {}) == []


def test_timing_spans_events_and_bounds() -> None:
    bounds = {"start": "2020-01-10", "end": "2020-02"}
    timing = {"event": ["2020-01-05", "2020-01-02"], "repeat": {"boundsPeriod": bounds}}
    assert dates_from_timing("date", timing) == [
        DateRow("date", micros("2020-01-02T00:00:00"), micros("2020-02-29T23:59:59.999999"))
    ]
    assert dates_from_timing("date", {"repeat": {"frequency": 2}}) == []


def test_the_last_year_ends_at_date_max() -> None:
    assert date_range("9999") == (micros("9999-01-01T00:00:00"), DATE_MAX)
    assert date_range("9999-12") == (micros("9999-12-01T00:00:00"), DATE_MAX)
    assert date_range("0001")[0] == DATE_MIN  # type: ignore[index]
