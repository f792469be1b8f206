"""The SQL engine's starts-with search as an index range (ehr.search.sql): every string that starts with a
prefix lies in [prefix, upper bound) in code point order, and no other string that does not is cut off by
the LIKE that goes with it."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from ehr.search.sql import prefix_upper_bound

texts = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=8)


@given(texts.filter(bool), texts)
def test_every_string_with_the_prefix_is_below_the_bound(prefix: str, rest: str) -> None:
    upper = prefix_upper_bound(prefix)
    assert prefix <= prefix + rest
    assert upper is None or prefix + rest < upper


@given(texts.filter(bool), texts)
def test_the_range_holds_only_strings_with_the_prefix(prefix: str, other: str) -> None:
    """Tight, but for a prefix ending in U+10FFFF (its bound is that of the prefix without it)."""
    upper = prefix_upper_bound(prefix)
    if upper is not None and prefix <= other < upper and not prefix.endswith("\U0010ffff"):
        assert other.startswith(prefix)


def test_bounds() -> None:
    assert prefix_upper_bound("abc") == "abd"
    assert prefix_upper_bound("a\U0010ffff") == "b"
    assert prefix_upper_bound("\U0010ffff") is None
    assert prefix_upper_bound("a\ud7ff") == "a\ue000"
