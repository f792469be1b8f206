"""The online path equals Splink: same blocked pairs, same comparison levels, same match weights
(to 1e-6) and probabilities, same grades, on a sample of Synthea-style hospital records and FEBRL1."""

from __future__ import annotations

import pytest
from splink import DuckDBAPI, Linker

from bench.mpi_data import Labelled, febrl, pair
from bench.mpi_synthea import population
from ehr.mpi.columns import arrow_table, comparison_row
from ehr.mpi.engine import MatchEngine
from ehr.mpi.memory_index import MemoryMatchIndex
from ehr.mpi.scoring import gamma_to_index
from ehr.mpi.splink_model import splink_settings

ENGINE = MatchEngine.load("v1")


def _sample(name: str) -> Labelled:
    if name == "febrl1":
        return febrl(1)
    return population(400, seed=11)


@pytest.fixture(scope="module", params=["synthea", "febrl1"])
def predicted(request: pytest.FixtureRequest) -> tuple[Labelled, list[dict[str, object]]]:
    data = _sample(str(request.param))
    db_api = DuckDBAPI()
    table = arrow_table(comparison_row(key, record) for key, record in data.records.items())
    linker = Linker(db_api.register(table), splink_settings(ENGINE.settings, ENGINE.model), log_level=None)
    return data, linker.inference.predict().as_record_list()


def test_same_blocked_pairs_as_the_index(predicted: tuple[Labelled, list[dict[str, object]]]) -> None:
    data, rows = predicted
    index = MemoryMatchIndex(ENGINE.settings)
    for key, record in data.records.items():
        index.upsert(key, record)
    online = {pair(key, other) for key, record in data.records.items()
              for other, _ in index.candidates(record) if other != key}
    assert online == {pair(str(r["unique_id_l"]), str(r["unique_id_r"])) for r in rows}
    assert len(online) > 100


def test_same_levels_weights_and_probabilities(predicted: tuple[Labelled, list[dict[str, object]]]) -> None:
    data, rows = predicted
    comparisons = ENGINE.settings.comparisons
    for row in rows:
        left, right = str(row["unique_id_l"]), str(row["unique_id_r"])
        match = ENGINE.score(data.records[left], data.records[right], key=right)
        assert abs(match.weight - float(row["match_weight"])) < 1e-6  # type: ignore[arg-type]
        assert abs(match.probability - float(row["match_probability"])) < 1e-9  # type: ignore[arg-type]
        splink_levels = [c.levels[gamma_to_index(int(row[f"gamma_{c.field}"]), len(c.levels))].label  # type: ignore[call-overload]
                         for c in comparisons]
        assert [c.level for c in match.explanation] == splink_levels
        reverse = ENGINE.score(data.records[right], data.records[left])
        assert (reverse.weight, reverse.grade) == (match.weight, match.grade)


def test_batch_grades_equal_online_grades() -> None:
    data = population(300, seed=12)
    result = ENGINE.link_all(data.records.items())
    assert result.pairs
    for linked in result.pairs:
        online = ENGINE.score(data.records[linked.left], data.records[linked.right])
        assert (linked.grade, abs(linked.weight - online.weight) < 1e-6) == (online.grade, True)
    clustered = sorted(key for cluster in result.clusters for key in cluster)
    assert clustered == sorted(data.records)
