"""Fellegi-Sunter scoring of one pair in Python, with exactly Splink's arithmetic.

For each comparison the first level that holds is chosen; the pair's match weight is the prior's
weight ``log2(λ / (1 - λ))`` plus, in settings order, each chosen level's ``log2(m / u)`` (0 for a
missing value), and the probability is ``1 / (1 + 2^-weight)`` written as Splink writes it
(``splink/internals/predict.py``). tests/mpi/test_online_vs_splink.py checks the equality.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ehr.mpi.columns import Row
from ehr.mpi.levels import holds
from ehr.mpi.model import TrainedModel
from ehr.mpi.rules import Comparison, Level, MatchSettings


@dataclass(frozen=True)
class ScoredPair:
    """Weight and probability of a pair, with the chosen level (index and label) per field."""

    weight: float
    probability: float
    level_indexes: tuple[int, ...]
    level_labels: tuple[str, ...]
    level_weights: tuple[float, ...]


class PairScorer:
    """Scores comparison rows under one settings version and its trained model."""

    def __init__(self, settings: MatchSettings, model: TrainedModel) -> None:
        self.settings = settings
        self.model = model
        self._levels: tuple[tuple[Comparison, tuple[tuple[Level, float], ...]], ...] = tuple(
            (c, tuple((level, model.level_weight(c.field, i)) for i, level in enumerate(c.levels)))
            for c in settings.comparisons
        )

    def score(self, left: Row, right: Row) -> ScoredPair:
        indexes: list[int] = []
        labels: list[str] = []
        weights: list[float] = []
        for _comparison, levels in self._levels:
            index, (level, weight) = next((i, lw) for i, lw in enumerate(levels) if holds(lw[0], left, right))
            indexes.append(index)
            labels.append(level.label)
            weights.append(weight)
        total = self.model.prior_weight
        for weight in weights:
            total = total + weight
        return ScoredPair(total, probability(total), tuple(indexes), tuple(labels), tuple(weights))


def probability(weight: float) -> float:
    """Match probability of a match weight, as Splink computes it (stable for large |weight|)."""
    if weight >= 0:
        return 1.0 / (1.0 + math.pow(2.0, -weight))
    return math.pow(2.0, weight) / (1.0 + math.pow(2.0, weight))


def gamma_to_index(gamma: int, level_count: int) -> int:
    """Splink's comparison vector value (-1 for null, then n-2 .. 0 from best to else) as a level index."""
    return 0 if gamma == -1 else level_count - 1 - gamma
