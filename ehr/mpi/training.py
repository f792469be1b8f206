"""Unsupervised training of the match model with Splink (DuckDB backend): no labels are read.

1. the prior λ from deterministic rules and their assumed recall
   (``estimate_probability_two_random_records_match``),
2. u probabilities from random pairs, which are almost all non-matches
   (``estimate_u_using_random_sampling``),
3. m probabilities by expectation maximisation, once per training blocking rule, each rule
   leaving the comparisons it blocks on to the other rules
   (``estimate_parameters_using_expectation_maximisation``).

Spec: https://moj-analytical-services.github.io/splink/topic_guides/training/training_rationale.html
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from splink import DuckDBAPI, Linker, block_on

from ehr.mpi.columns import Row, arrow_table
from ehr.mpi.model import LevelParameters, TrainedModel
from ehr.mpi.rules import MatchSettings, SettingsError
from ehr.mpi.splink_model import splink_settings

logging.getLogger("splink").setLevel(logging.WARNING)


def train_model(rows: Iterable[Row], settings: MatchSettings, *, trained_on: str) -> TrainedModel:
    """Train m, u and λ for ``settings`` on comparison ``rows`` (no labels)."""
    db_api = DuckDBAPI()
    linker = Linker(db_api.register(arrow_table(rows)), splink_settings(settings), log_level=None)
    spec = settings.training
    linker.training.estimate_probability_two_random_records_match(
        [block_on(*rule) for rule in spec.prior_rules], recall=spec.prior_recall)
    linker.training.estimate_u_using_random_sampling(max_pairs=spec.u_max_pairs, seed=spec.u_seed)
    for rule in spec.em_blocking:
        linker.training.estimate_parameters_using_expectation_maximisation(block_on(*rule))
    return extract_model(linker, settings, trained_on)


def extract_model(linker: Linker, settings: MatchSettings, trained_on: str) -> TrainedModel:
    """The m/u probabilities and λ a Splink linker holds, in the order of ``settings``."""
    splink = linker._settings_obj  # Splink keeps trained values here (no public accessor)
    levels: dict[str, tuple[LevelParameters, ...]] = {}
    for comparison, trained in zip(settings.comparisons, splink.comparisons, strict=True):
        params = []
        for level in trained.comparison_levels[1:]:
            m, u = level.m_probability, level.u_probability
            if m is None or u is None:
                raise SettingsError(f"training left {comparison.field!r} level {level.label_for_charts!r} without "
                                    "m or u; add an EM blocking rule that does not block on it")
            params.append(LevelParameters(level.label_for_charts, float(m), float(u)))
        levels[comparison.field] = tuple(params)
    return TrainedModel(settings.version, settings.digest, float(splink._probability_two_random_records_match),
                        levels, trained_on)
