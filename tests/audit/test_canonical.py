"""orjson with sorted keys writes RFC 8785 (JCS) bytes for every value an audit entry can hold:
checked against the ``rfc8785`` reference implementation with generated values."""

from __future__ import annotations

from typing import Any

import pytest
import rfc8785
from hypothesis import given, settings
from hypothesis import strategies as st

from ehr.audit.canonical import MAX_EXACT_INT, NotCanonicalizable, canonical

# every code point except surrogates (which JSON text in UTF-8 cannot carry)
TEXT = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
ASCII_KEYS = st.text(st.characters(min_codepoint=0, max_codepoint=127), max_size=12)
SCALARS = st.none() | st.booleans() | st.integers(-MAX_EXACT_INT, MAX_EXACT_INT) | TEXT
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=5) | st.dictionaries(ASCII_KEYS, inner,
                                                                                            max_size=6),
                      max_leaves=30)


@settings(max_examples=400)
@given(VALUES)
def test_orjson_sorted_is_rfc8785(value: Any) -> None:
    assert canonical(value) == rfc8785.dumps(value)


@given(st.dictionaries(ASCII_KEYS, SCALARS, max_size=8))
def test_key_order_does_not_matter(value: dict[str, Any]) -> None:
    assert canonical(dict(reversed(list(value.items())))) == canonical(value)


@pytest.mark.parametrize("value", [1.5, {"é": 1}, 2**53, [float("nan")], {1: "x"}])
def test_values_outside_the_proven_subset_are_refused(value: Any) -> None:
    with pytest.raises(NotCanonicalizable):
        canonical(value)


def test_control_characters_and_escapes() -> None:
    value = {"s": "\u0000\u001f\b\f\n\r\t\"\\/\u007f\u2028é😀"}
    assert canonical(value) == rfc8785.dumps(value)
