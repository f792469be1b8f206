"""Properties of keyset paging (``ehr.search.paging``): for any rows, sort keys (with missing values)
and page size, walking forward from the start, or backward from the end, visits every row exactly once
in the result order; cursors round-trip."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ehr.search.paging import decode_cursor, encode_cursor, order_rows, page_of
from ehr.search.query import Position, SearchQuery, SortKey

Row = tuple[tuple[Any, ...], int]

sort_keys = st.lists(st.booleans(), min_size=0, max_size=3).map(
    lambda flags: tuple(SortKey(f"k{i}", "number", descending) for i, descending in enumerate(flags)))


def _rows(width: int) -> st.SearchStrategy[list[Row]]:
    value = st.one_of(st.none(), st.integers(0, 3))
    return st.lists(st.tuples(st.tuples(*[value] * width), st.integers(1, 10_000)), max_size=30,
                    unique_by=lambda r: r[1])


def _key(row: Row) -> Row:
    return row


@settings(max_examples=200, deadline=None)
@given(data=st.data(), sort=sort_keys, count=st.integers(1, 7))
def test_walking_forward_and_backward_visits_every_row_once_in_order(data: st.DataObject,
                                                                     sort: tuple[SortKey, ...], count: int) -> None:
    rows = data.draw(_rows(len(sort)))
    ordered = order_rows(rows, SearchQuery("X", sort=sort), _key)
    forward: list[Row] = []
    query = SearchQuery("X", count=count, sort=sort)
    last_page: list[Row] = []
    while True:
        page, following, _ = page_of(ordered, query, _key)
        forward.extend(page)
        last_page = page or last_page
        if following is None:
            break
        query = SearchQuery("X", count=count, sort=sort, position=following)
    assert forward == ordered
    if not last_page:
        return
    backward: list[Row] = list(last_page)
    start = Position(tuple(last_page[0][0]), last_page[0][1], backward=True)
    query = SearchQuery("X", count=count, sort=sort, position=start)
    while True:
        page, _, preceding = page_of(ordered, query, _key)
        backward[:0] = page
        if preceding is None:
            break
        query = SearchQuery("X", count=count, sort=sort, position=preceding)
    assert backward == ordered


@given(values=st.lists(st.one_of(st.none(), st.integers(-10**15, 10**15), st.text(max_size=20),
                                 st.floats(allow_nan=False, allow_infinity=False)), max_size=3),
       pk=st.integers(0, 2**63 - 1), backward=st.booleans())
def test_cursors_round_trip(values: list[Any], pk: int, backward: bool) -> None:
    sort = tuple(SortKey(f"k{i}", "number") for i in range(len(values)))
    position = Position(tuple(values), pk, backward)
    assert decode_cursor(encode_cursor(position), sort) == position
