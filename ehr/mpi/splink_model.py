"""The settings (and, when trained, the model) as a Splink ``SettingsCreator``, for any backend.

Comparison levels come from ``ehr.mpi.levels.splink_level``, so Splink writes dialect-specific SQL
(DuckDB embedded, or Spark for populations beyond one machine) from the same data. Links are
within one table of all hospitals' records (``dedupe_only``), as a master patient index needs.
"""

from __future__ import annotations

import splink.comparison_library as cl
from splink import SettingsCreator, block_on
from splink.internals.comparison_creator import ComparisonCreator

from ehr.mpi.columns import UNIQUE_ID
from ehr.mpi.levels import splink_level
from ehr.mpi.model import TrainedModel
from ehr.mpi.rules import Comparison, MatchSettings

RETAINED = ["tenant", "placeholder", "multiple_birth"]


def splink_settings(settings: MatchSettings, model: TrainedModel | None = None) -> SettingsCreator:
    """Splink settings for ``settings``, with ``model``'s m/u probabilities and prior when given."""
    prior = model.probability_two_random_records_match if model else 0.0001
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name=UNIQUE_ID,
        comparisons=[_comparison(c, model) for c in settings.comparisons],
        blocking_rules_to_generate_predictions=[block_on(*rule.columns) for rule in settings.blocking_rules],
        probability_two_random_records_match=prior,
        retain_matching_columns=True,
        retain_intermediate_calculation_columns=False,
        additional_columns_to_retain=RETAINED,
        max_iterations=50,
    )


def _comparison(comparison: Comparison, model: TrainedModel | None) -> ComparisonCreator:
    creators = []
    for index, level in enumerate(comparison.levels):
        creator = splink_level(level)
        if model is not None and index > 0:
            params = model.levels[comparison.field][index - 1]
            creator = creator.configure(m_probability=params.m_probability, u_probability=params.u_probability)
        creators.append(creator)
    return cl.CustomComparison(comparison_levels=list(creators), output_column_name=comparison.field)
