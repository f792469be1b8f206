"""Blind-index rewriting (ehr.search.blind) as properties: a stored date gives one digest per precision
it has, and any search eq at one of those precisions finds it; every prefix of a stored string is
found, and nothing in the rows is the value in the clear."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehr.crypto.blind import BlindIndexKey
from ehr.errors import BadRequest
from ehr.search.blind import Blinder, date_texts, is_blind
from ehr.search.index_rows import DateRow, IndexRows, StringRow
from ehr.search.query import Criterion, RangeValue, StringValue
from ehr.search.values.dates import date_range
from ehr.search.values.strings import fold

BLINDER = Blinder(BlindIndexKey(bytes(range(32))))
days = st.dates(min_value=date(1800, 1, 1), max_value=date(2200, 12, 31))


@given(days, st.integers(1, 3))
def test_date_texts_are_the_precisions_a_date_has(day: date, precision: int) -> None:
    text = day.isoformat()[: {1: 4, 2: 7, 3: 10}[precision]]
    low, high = date_range(text) or (0, 0)
    assert date_texts(low, high) == [day.isoformat()[:n] for n in (4, 7, 10)][:precision]


@given(days, st.integers(1, 3), st.integers(1, 3))
def test_eq_at_a_stored_precision_finds_the_date(day: date, stored: int, searched: int) -> None:
    cut = {1: 4, 2: 7, 3: 10}
    low, high = date_range(day.isoformat()[: cut[stored]]) or (0, 0)
    rows = BLINDER.rows("Patient", IndexRows(dates=[DateRow("birthdate", low, high)]))
    q_low, q_high = date_range(day.isoformat()[: cut[searched]]) or (0, 0)
    criterion = BLINDER.criterion("Patient", Criterion("birthdate", "date", None,
                                                       (RangeValue("eq", float(q_low), float(q_high)),)))
    codes = {row.code for row in rows.tokens}
    found = any(getattr(v, "code", None) in codes for v in criterion.values)
    assert found == (searched <= stored)  # FHIR eq: the stored range must lie within the searched one
    assert rows.dates == []


@given(st.text(alphabet=st.characters(categories=("L", "N", "Zs")), min_size=1, max_size=24), st.data())
def test_every_prefix_of_a_name_is_found(name: str, data: st.DataObject) -> None:
    folded = fold(name)
    rows = BLINDER.rows("Patient", IndexRows(strings=[StringRow("family", folded, name)]))
    codes = {row.code for row in rows.tokens}
    prefix = folded[: data.draw(st.integers(1, max(1, len(folded))))]
    criterion = BLINDER.criterion("Patient", Criterion("family", "string", None, (StringValue(prefix, prefix),)))
    assert criterion.type == "token"
    assert all(getattr(v, "code", None) in codes for v in criterion.values) == bool(prefix)
    assert rows.strings == []
    assert all(len(row.code or "") == 32 and row.code not in (name, folded) for row in rows.tokens)


def test_only_identifying_parameters_are_blind() -> None:
    assert is_blind("Patient", "family")
    assert is_blind("Observation", "identifier")
    assert not is_blind("Organization", "name")
    assert not is_blind("Patient", "gender")
    assert is_blind("Observation", "subject:display")  # a reference's display may name a person
    assert is_blind("Encounter", "service-provider:display")
    assert is_blind("Patient", "identifier:text")
    assert not is_blind("Observation", "code:text")


@given(st.text(alphabet=st.characters(categories=("L", "N", "Zs")), min_size=1, max_size=24), st.data())
def test_every_prefix_of_a_reference_display_is_found(display: str, data: st.DataObject) -> None:
    """``subject:text`` is a string search on Reference.display: answered by prefix digests."""
    folded = fold(display)
    rows = BLINDER.rows("Observation", IndexRows(strings=[StringRow("subject:display", folded, display)]))
    prefix = folded[: data.draw(st.integers(1, max(1, len(folded))))]
    criterion = BLINDER.criterion("Observation", Criterion("subject:display", "string", None,
                                                           (StringValue(prefix, prefix),)))
    assert rows.strings == []
    assert criterion.type == "token"
    assert all(getattr(v, "code", None) in {row.code for row in rows.tokens} for v in criterion.values)
    assert all(row.code not in (display, folded) for row in rows.tokens)


def test_texts_of_blind_tokens_are_not_stored_and_not_searchable() -> None:
    """Identifier.type.text of a blind ``identifier`` is dropped; ``identifier:text`` is a 400. The texts of
    other tokens stay as they are."""
    texts = [StringRow("identifier:text", "mrn", "MRN"), StringRow("code:text", "pulse", "Pulse")]
    rows = BLINDER.rows("Patient", IndexRows(strings=texts))
    assert rows.strings == [StringRow("code:text", "pulse", "Pulse")]
    assert rows.tokens == []
    refused = Criterion("identifier:text", "string", None, (StringValue("mrn", "mrn"),))
    with pytest.raises(BadRequest, match="identifier:text"):
        BLINDER.criterion("Patient", refused)
    kept = Criterion("code:text", "string", None, (StringValue("pu", "pu"),))
    assert BLINDER.criterion("Observation", kept) == kept
