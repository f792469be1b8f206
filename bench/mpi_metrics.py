"""Quality of a linkage against the truth: pairwise and cluster precision, recall and F1.

Pairwise: over record pairs (a predicted pair is a pair the linkage links). Cluster: over groups of
two or more records, a predicted cluster counts when it equals a true cluster exactly (the strict
measure of the record-linkage literature); truth clusters are the connected components of the
true pairs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from bench.mpi_data import Pair, pair


@dataclass(frozen=True)
class Quality:
    precision: float
    recall: float
    true_positives: int
    false_positives: int
    false_negatives: int

    @property
    def f1(self) -> float:
        total = self.precision + self.recall
        return 2 * self.precision * self.recall / total if total else 0.0


def quality(predicted: Iterable[object], truth: Iterable[object]) -> Quality:
    found, wanted = set(predicted), set(truth)
    hits = len(found & wanted)
    return Quality(hits / len(found) if found else 1.0, hits / len(wanted) if wanted else 1.0,
                   hits, len(found) - hits, len(wanted) - hits)


def pairwise(links: Iterable[tuple[str, str]], truth: frozenset[Pair]) -> Quality:
    return quality((pair(a, b) for a, b in links), truth)


def clusters_of(keys: Iterable[str], links: Iterable[tuple[str, str]]) -> list[frozenset[str]]:
    """Connected components of ``links`` over ``keys`` (union-find)."""
    parent = {key: key for key in keys}

    def root(key: str) -> str:
        while parent[key] != key:
            parent[key] = parent[parent[key]]
            key = parent[key]
        return key

    for a, b in links:
        parent[root(a)] = root(b)
    groups: dict[str, set[str]] = {}
    for key in parent:
        groups.setdefault(root(key), set()).add(key)
    return [frozenset(group) for group in groups.values()]


def cluster_quality(predicted: Iterable[Iterable[str]], keys: Iterable[str], truth: frozenset[Pair]) -> Quality:
    wanted = {c for c in clusters_of(keys, truth) if len(c) > 1}
    return quality((frozenset(c) for c in predicted if len(frozenset(c)) > 1), wanted)
