"""Batch linkage with Splink: predict every blocked pair, grade it, cluster the ``certain`` pairs.

The same settings and model as the online scorer; Splink runs them as SQL on DuckDB (embedded,
default) or on any Splink backend passed as ``db_api`` (``splink.SparkAPI`` for populations that
outgrow one machine). Grades use ``ehr.mpi.grading`` on Splink's comparison vectors, so the batch
and online paths grade alike; clusters are Splink's connected components over ``certain`` pairs.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pyarrow as pa
from splink import DuckDBAPI, Linker
from splink.clustering import cluster_pairwise_predictions_at_threshold

from ehr.mpi.columns import UNIQUE_ID, arrow_table, comparison_row
from ehr.mpi.engine import LinkedPair, LinkResult
from ehr.mpi.features import PatientRecord
from ehr.mpi.grading import capped_grade, grade_of, never_certain_reason
from ehr.mpi.model import TrainedModel
from ehr.mpi.rules import MatchSettings
from ehr.mpi.scoring import gamma_to_index
from ehr.mpi.splink_model import splink_settings

FLAGS = ("placeholder", "multiple_birth")


def link_records(settings: MatchSettings, model: TrainedModel, records: Iterable[tuple[str, PatientRecord]],
                 db_api: Any = None) -> LinkResult:
    """Pairs graded ``possible`` or better, and clusters of ``certain`` pairs, for ``records``."""
    db_api = db_api or DuckDBAPI()
    keys: list[str] = []
    rows = []
    for key, record in records:
        keys.append(key)
        rows.append(comparison_row(key, record))
    linker = Linker(db_api.register(arrow_table(rows)), splink_settings(settings, model), log_level=None)
    predictions = linker.inference.predict(threshold_match_probability=settings.grades.possible)
    pairs = graded_pairs(settings, predictions.as_dict())
    return LinkResult(tuple(pairs), cluster(db_api, keys, [p for p in pairs if p.grade == "certain"]))


def graded_pairs(settings: MatchSettings, columns: dict[str, list[Any]]) -> list[LinkedPair]:
    """Grade Splink's predictions (``gamma_<field>`` and the retained flags) like the online path."""
    pairs = []
    for i in range(len(columns[f"{UNIQUE_ID}_l"])):
        labels = {c.field: c.levels[gamma_to_index(columns[f"gamma_{c.field}"][i], len(c.levels))].label
                  for c in settings.comparisons}
        left = {flag: columns[f"{flag}_l"][i] for flag in FLAGS}
        right = {flag: columns[f"{flag}_r"][i] for flag in FLAGS}
        probability = float(columns["match_probability"][i])
        reason = never_certain_reason(settings, left, right, labels)
        grade = capped_grade(grade_of(probability, settings.grades), reason)
        pairs.append(LinkedPair(str(columns[f"{UNIQUE_ID}_l"][i]), str(columns[f"{UNIQUE_ID}_r"][i]),
                                probability, float(columns["match_weight"][i]), grade))
    pairs.sort(key=lambda p: (-p.weight, p.left, p.right))
    return pairs


def cluster(db_api: Any, keys: list[str], links: list[LinkedPair]) -> tuple[tuple[str, ...], ...]:
    """Connected components (Splink's clustering) of ``keys`` joined by ``links``."""
    nodes = pa.table({UNIQUE_ID: pa.array(keys, pa.string())})
    edges = pa.table({f"{UNIQUE_ID}_l": pa.array([p.left for p in links], pa.string()),
                      f"{UNIQUE_ID}_r": pa.array([p.right for p in links], pa.string())})
    clustered = cluster_pairwise_predictions_at_threshold(nodes, edges, db_api, UNIQUE_ID).as_dict()
    groups: defaultdict[str, list[str]] = defaultdict(list)
    for node, cluster_id in zip(clustered[UNIQUE_ID], clustered["cluster_id"], strict=True):
        groups[str(cluster_id)].append(str(node))
    return tuple(sorted(tuple(sorted(group)) for group in groups.values()))
