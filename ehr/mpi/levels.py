"""Each comparison-level kind, rendered twice: as a Python predicate and as a Splink level.

The online scorer evaluates ``holds(level, left, right)`` for a handful of candidates; Splink runs
``splink_level(level)`` as SQL (DuckDB or Spark). Both renderings sit side by side here so that
their semantics stay identical: SQL's ``NULL`` makes a comparison false, so every Python predicate
is false when a value it reads is ``None``; Jaro-Winkler and Damerau-Levenshtein come from
``jellyfish``, which agrees with DuckDB's ``jaro_winkler_similarity`` and ``damerau_levenshtein``
bit for bit (tests/mpi/test_levels.py checks that property on random strings).
"""

from __future__ import annotations

from itertools import combinations
from typing import Any, assert_never

import jellyfish
import splink.comparison_level_library as cll
from splink.internals.comparison_level_creator import ComparisonLevelCreator

from ehr.mpi.columns import Row
from ehr.mpi.rules import Level


def holds(level: Level, left: Row, right: Row) -> bool:
    """Whether the pair (``left``, ``right``) is in ``level`` (levels are tried in order)."""
    kind = level.kind
    if kind == "null":
        column = level.columns[0]
        return left[column] is None or right[column] is None
    if kind == "else":
        return True
    if kind == "all_equal":
        return all(_equal(left[c], right[c]) for c in level.columns)
    if kind == "all_but_one_equal":
        return any(all(_equal(left[c], right[c]) for c in pair)
                   for pair in combinations(level.columns, len(level.columns) - 1))
    if kind == "swapped":
        return _equal(left[level.columns[0]], right[level.columns[1]])
    a, b = left[level.columns[0]], right[level.columns[0]]
    if a is None or b is None:
        return False
    if kind == "exact":
        return bool(a == b)
    if kind == "overlap":
        return not set(a).isdisjoint(b)
    if kind == "jaro_winkler":
        return jellyfish.jaro_winkler_similarity(a, b) >= level.threshold
    if kind == "damerau_levenshtein":
        return jellyfish.damerau_levenshtein_distance(a, b) <= level.distance
    assert_never(kind)


def splink_level(level: Level) -> ComparisonLevelCreator:
    """The same level as a Splink comparison level (dialect-neutral: Splink writes the SQL)."""
    kind, label = level.kind, level.label
    creator: ComparisonLevelCreator
    if kind == "null":
        creator = cll.NullLevel(level.columns[0])
    elif kind == "else":
        creator = cll.ElseLevel()
    elif kind == "exact":
        creator = cll.ExactMatchLevel(level.columns[0])
    elif kind == "overlap":
        creator = cll.ArrayIntersectLevel(level.columns[0], min_intersection=1)
    elif kind == "jaro_winkler":
        creator = cll.JaroWinklerLevel(level.columns[0], level.threshold)
    elif kind == "damerau_levenshtein":
        creator = cll.DamerauLevenshteinLevel(level.columns[0], level.distance)
    elif kind == "swapped":
        first, other = level.columns
        creator = cll.CustomLevel(f'"{first}_l" = "{other}_r"', base_dialect_str="duckdb")
    elif kind == "all_equal":
        creator = cll.And(*(cll.ExactMatchLevel(c) for c in level.columns))
    elif kind == "all_but_one_equal":
        pairs = combinations(level.columns, len(level.columns) - 1)
        creator = cll.Or(*(cll.And(*(cll.ExactMatchLevel(c) for c in pair)) for pair in pairs))
    else:
        assert_never(kind)
    return creator.configure(label_for_charts=label)


def _equal(a: Any, b: Any) -> bool:
    return a is not None and b is not None and bool(a == b)
