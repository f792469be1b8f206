"""Time formats of stored versions: ``to_instant`` (meta.lastUpdated, AuditEvent.recorded) and
``to_http_date`` (Last-Modified), in integer arithmetic with cached seconds, against ``datetime``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from ehr.store.records import to_http_date, to_instant

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
# 1900-01-01 .. 2200-01-01 in microseconds
MICROS = st.integers(-2_208_988_800_000_000, 7_258_118_400_000_000)


@given(MICROS)
def test_instant_is_the_exact_microsecond(us: int) -> None:
    assert to_instant(us) == (EPOCH + timedelta(microseconds=us)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


@given(MICROS)
def test_http_date_is_the_second(us: int) -> None:
    assert to_http_date(us) == (EPOCH + timedelta(microseconds=us)).strftime("%a, %d %b %Y %H:%M:%S GMT")


def test_examples() -> None:
    assert to_instant(1_700_000_000_123_456) == "2023-11-14T22:13:20.123456Z"
    assert to_instant(0) == "1970-01-01T00:00:00.000000Z"
    assert to_instant(-1) == "1969-12-31T23:59:59.999999Z"
    assert to_http_date(1_700_000_000_999_999) == "Tue, 14 Nov 2023 22:13:20 GMT"
