"""Keyset paging of search results, sorted or not, forward and backward, shared by both engines.

A page is the ``count`` rows after (or, backward, before) a :class:`Position` in the order given by
the ``_sort`` keys and then the resource key. The rules the SQL and in-memory engines both follow:

* a key's value is the resource's smallest value of the parameter when ascending, its largest when
  descending; a resource without one sorts after every resource with one, in either direction;
* the cursor of a link is the opaque text of a position (:func:`encode_cursor`): plain digits for the
  next page of an unsorted search, else URL-safe base64 of its JSON.

Spec: https://hl7.org/fhir/R4/search.html#sort, https://hl7.org/fhir/R4/http.html#paging
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ehr.errors import BadRequest
from ehr.search.query import Position, SearchQuery, SortKey, SortValue

T = TypeVar("T")
KeyOf = Callable[[T], tuple[Sequence[SortValue], int]]

_BAD_CURSOR = "_cursor is not valid; follow the Bundle's next or previous link instead of building it."


def sort_column(key: SortKey) -> str:
    """The index-table column a key of ``key.type`` sorts by (dates by the start of their range
    ascending, by its end descending)."""
    fixed = {"token": "code", "string": "norm", "reference": "target_id", "uri": "uri", "number": "value",
             "quantity": "value"}
    return fixed.get(key.type) or ("high" if key.descending else "low")


def encode_cursor(position: Position) -> str:
    if not position.values and not position.backward:
        return str(position.pk)
    raw = json.dumps([list(position.values), position.pk, position.backward], separators=(",", ":"))
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(raw: str, sort: Sequence[SortKey]) -> Position:
    """The position a ``_cursor`` names; 400 when it was not made by this server for this sort."""
    if raw.isdigit():
        if int(raw) > 2**63 - 1 or sort:
            raise BadRequest(_BAD_CURSOR)
        return Position((), int(raw))
    try:
        values, pk, backward = json.loads(base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4)))
    except (ValueError, TypeError, binascii.Error):
        raise BadRequest(_BAD_CURSOR) from None
    ok = (isinstance(values, list) and len(values) == len(sort) and isinstance(pk, int) and 0 <= pk < 2**63
          and isinstance(backward, bool) and all(v is None or isinstance(v, int | float | str) for v in values))
    if not ok:
        raise BadRequest(_BAD_CURSOR)
    return Position(tuple(values), pk, backward)


def query_position(query: SearchQuery) -> Position | None:
    if query.position is not None:
        return query.position
    return None if query.after is None else Position((), query.after)


def order_rows(rows: Sequence[T], query: SearchQuery, key_of: KeyOf[T]) -> list[T]:
    """``rows`` in the result order of ``query`` (the in-memory engine's sort)."""
    def sort_key(row: T) -> tuple[Any, ...]:
        values, pk = key_of(row)
        parts: list[Any] = []
        for key, value in zip(query.sort, values, strict=True):
            parts.append((value is None, _Reversed(value) if key.descending and value is not None else value))
        return (*parts, pk)

    return sorted(rows, key=sort_key)


def follows(values: Sequence[SortValue], pk: int, position: Position, sort: Sequence[SortKey]) -> bool:
    """Whether a row (its sort values and key) comes after ``position`` in the result order."""
    for key, mine, theirs in zip(sort, values, position.values, strict=True):
        if mine == theirs:
            continue
        if mine is None or theirs is None:
            return theirs is not None
        return bool(mine < theirs) if key.descending else bool(mine > theirs)  # type: ignore[operator]
    return pk > position.pk


def page_of(ordered: list[T], query: SearchQuery,
            key_of: KeyOf[T]) -> tuple[list[T], Position | None, Position | None]:
    """The page of the already ordered ``ordered`` rows that ``query`` asks for, and the positions of
    the next and previous pages (None when there is none)."""
    start = query_position(query)
    if start is None:
        chosen = ordered[: query.count + 1]
        more_after, more_before = len(chosen) > query.count, False
        chosen = chosen[: query.count]
    elif not start.backward:
        after = [r for r in ordered if follows(*key_of(r), start, query.sort)]
        more_after, more_before = len(after) > query.count, True
        chosen = after[: query.count]
    else:
        before = [r for r in ordered if not follows(*key_of(r), start, query.sort) and _key(key_of(r)) != _at(start)]
        more_before, more_after = len(before) > query.count, True
        chosen = before[-query.count:] if query.count else []
    return chosen, *edges(chosen, key_of, more_after=more_after, more_before=more_before)


def edges(chosen: Sequence[T], key_of: KeyOf[T], *, more_after: bool,
          more_before: bool) -> tuple[Position | None, Position | None]:
    """The next and previous positions of a page holding ``chosen``."""
    if not chosen:
        return None, None
    last_values, last_pk = key_of(chosen[-1])
    first_values, first_pk = key_of(chosen[0])
    following = Position(tuple(last_values), last_pk) if more_after else None
    preceding = Position(tuple(first_values), first_pk, backward=True) if more_before else None
    return following, preceding


def _key(key: tuple[Sequence[SortValue], int]) -> tuple[tuple[SortValue, ...], int]:
    return tuple(key[0]), key[1]


def _at(position: Position) -> tuple[tuple[SortValue, ...], int]:
    return position.values, position.pk


class _Reversed:
    """Wraps a value so that ``sorted`` orders it descending inside an ascending tuple."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Reversed) -> bool:
        return bool(self.value > other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Reversed) and bool(self.value == other.value)

    def __hash__(self) -> int:
        return hash(self.value)
