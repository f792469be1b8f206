"""UCUM conversion and date handling (property-based where an invariant exists)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inference.features import age_years, parse_datetime
from inference.units import UnitError, convert, normalise


@given(st.floats(min_value=-100, max_value=300, allow_nan=False))
def test_fahrenheit_celsius_is_affine_and_monotone(f: float) -> None:
    assert convert(f, "[degF]", "Cel") == pytest.approx((f - 32) * 5 / 9)
    assert convert(f + 1, "[degF]", "Cel") > convert(f, "[degF]", "Cel")


def test_annotations_and_aliases() -> None:
    assert normalise("{beats}/min") == "/min"
    assert normalise("{score}") == "1"
    assert convert(12.0, "kPa", "mm[Hg]") == pytest.approx(90.01, abs=0.01)
    with pytest.raises(UnitError, match="record the value"):
        convert(1.0, "kg", "/min")


def test_datetimes_need_time_zone() -> None:
    assert parse_datetime("2025-01-10T10:00:00Z") == datetime(2025, 1, 10, 10, tzinfo=UTC)
    assert parse_datetime("2025-01-10") == datetime(2025, 1, 10, tzinfo=UTC)
    assert parse_datetime("2025-01-10T10:00:00") is None
    assert parse_datetime("2025-01") is None


def test_age_from_partial_birth_date() -> None:
    now = datetime(2025, 1, 10, tzinfo=UTC)
    assert age_years("1950-03-02", now) == 74
    assert age_years("1950-01", now) == 75
    assert age_years("1950", now) is None
