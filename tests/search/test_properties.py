"""Property tests for value extraction invariants (hypothesis)."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta

from hypothesis import example, given, settings
from hypothesis import strategies as st

from ehr.search.extract import extract_index_rows
from ehr.search.paths import element_types
from ehr.search.query_values import number_range
from ehr.search.registry import Registry
from ehr.search.values.dates import date_range
from ehr.search.values.quantities import UCUM, UCUM_UNITS, canonicalize
from ehr.search.values.references import split_reference
from ehr.search.values.strings import fold

moments = st.datetimes(
    min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59, 999999), timezones=st.just(UTC)
).map(lambda d: d.replace(tzinfo=None))
offsets = st.sampled_from(["Z", "+00:00", "+05:30", "-11:00", "+14:00", ""])


def truncations(moment: datetime, offset: str) -> list[str]:
    """The same instant written at every precision, coarsest first (years zero-padded to 4 digits)."""
    year = f"{moment.year:04d}"
    month = f"{year}-{moment.month:02d}"
    day = f"{month}-{moment.day:02d}"
    seconds = f"{day}T{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d}"
    return [year, month, day, seconds + offset, full_text(moment, offset)]


def full_text(moment: datetime, offset: str) -> str:
    return f"{moment.year:04d}-{moment:%m-%dT%H:%M:%S}.{moment.microsecond:06d}{offset}"


@given(moments, offsets)
def test_date_range_is_ordered(moment: datetime, offset: str) -> None:
    for text in truncations(moment, offset):
        found = date_range(text)
        assert found is not None
        assert found[0] <= found[1]


@given(moments)
def test_coarser_precision_contains_finer(moment: datetime) -> None:
    ranges = [date_range(text) for text in truncations(moment, "Z")]
    for wide, narrow in itertools.pairwise(ranges):
        assert wide is not None
        assert narrow is not None
        assert wide[0] <= narrow[0] <= narrow[1] <= wide[1]


@given(moments, offsets)
def test_full_precision_matches_datetime(moment: datetime, offset: str) -> None:
    text = full_text(moment, offset)
    aware = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if aware.tzinfo is None:
        aware = aware.replace(tzinfo=UTC)
    expected = (aware - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(microseconds=1)
    assert date_range(text) == (expected, expected)


@given(st.text())
def test_fold_is_idempotent(text: str) -> None:
    assert fold(fold(text)) == fold(text)


@given(st.text())
@example("\u0345")  # the Greek iota subscript: a combining mark whose capital is a letter
@example("\u1fbc")  # capital alpha with prosgegrammeni
def test_fold_ignores_case(text: str) -> None:
    assert fold(text.upper()) == fold(fold(text).upper())


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4, min_value=-1e9, max_value=1e9))
def test_number_range_brackets_the_value(value: object) -> None:
    number, low, high = number_range(str(value), "p")
    assert low < high
    assert low <= number <= high


@given(
    st.sampled_from(sorted(UCUM_UNITS)),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
    st.floats(min_value=-1e6, max_value=1e6, allow_nan=False),
)
def test_canonicalisation_preserves_order(code: str, a: float, b: float) -> None:
    low, high = sorted((a, b))
    converted_low = canonicalize(low, UCUM, code)
    converted_high = canonicalize(high, UCUM, code)
    assert converted_low is not None
    assert converted_high is not None
    assert converted_low[0] == converted_high[0]
    assert converted_low[1] <= converted_high[1]


@given(
    st.from_regex(r"[A-Z][a-z]{2,20}", fullmatch=True),
    st.from_regex(r"[A-Za-z0-9\-.]{1,64}", fullmatch=True),
)
def test_relative_reference_round_trip(resource_type: str, resource_id: str) -> None:
    row = split_reference(f"{resource_type}/{resource_id}")
    assert row is not None
    assert (row.target_type, row.target_id, row.url) == (resource_type, resource_id, None)


FHIR_KEYS = (
    "coding", "system", "code", "display", "text", "value", "unit", "comparator", "currency", "reference",
    "type", "identifier", "start", "end", "low", "high", "family", "given", "line", "city", "resource",
    "resourceType", "id", "valueQuantity", "valueCodeableConcept", "valueString", "valuePeriod", "event",
    "repeat", "boundsPeriod", "lastUpdated", "tag", "profile", "source", "use",
)  # fmt: skip
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(FHIR_KEYS), inner, max_size=4),
    max_leaves=25,
)


@settings(max_examples=150, deadline=None)
@given(
    st.sampled_from(["Observation", "Patient", "Encounter", "MedicationRequest", "Bundle", "Group"]),
    st.data(),
)
def test_extraction_never_raises_on_arbitrary_json(resource_type: str, data: st.DataObject) -> None:
    registry = Registry.load()
    prefix = f"{resource_type}."
    top_level = [p for p in element_types() if p.startswith(prefix) and p.count(".") == 1]
    element_names = sorted({p.removeprefix(prefix).replace("[x]", "") for p in top_level})
    keys = st.sampled_from(element_names + [f"{n}Quantity" for n in element_names] + list(FHIR_KEYS))
    body = data.draw(st.dictionaries(keys, json_values, max_size=8))
    extract_index_rows({**body, "resourceType": resource_type}, registry)
