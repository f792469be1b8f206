"""Settings are validated data: v1 loads, malformed documents are refused with a useful message,
and a model trained for other settings does not load."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from typing import Any

import pytest

from ehr.mpi.engine import MatchEngine
from ehr.mpi.model import check_model, load_model
from ehr.mpi.rules import SETTINGS_DIR, SettingsError, load_settings, parse_settings

V1 = json.loads((SETTINGS_DIR / "v1.json").read_text(encoding="utf-8"))


def test_v1_loads_with_its_model() -> None:
    engine = MatchEngine.load("v1")
    fields = [c.field for c in engine.settings.comparisons]
    assert fields == ["given", "middle", "family", "birth_date", "sex", "ssn", "address", "place", "phone",
                      "email"]
    assert engine.settings.comparison("birth_date").level_index("day/month swapped") == 2
    assert 0 < engine.model.probability_two_random_records_match < 0.01


def _set(path: tuple[Any, ...], value: Any) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        target = doc
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = value
    return change


MUTATIONS = {
    "unknown level kind": (_set(("comparisons", 0, "levels", 1, "kind"), "regex"), "is not one of"),
    "code in a column name": (_set(("comparisons", 0, "levels", 1, "column"), "given_l; drop table x"),
                              "is not a comparison column"),
    "overlap on a string column": (_set(("comparisons", 0, "levels", 2, "column"), "given"), "is not a comparison"),
    "null level not first": (_set(("comparisons", 0, "levels", 0, "kind"), "exact"), "must start with a 'null'"),
    "threshold out of range": (_set(("comparisons", 0, "levels", 4, "threshold"), 1.5), "expected a number"),
    "grades out of order": (_set(("grades", "probable"), 0.999), "possible < probable < certain"),
    "twin rule on unknown level": (_set(("never_certain", "twins", 0, "unless"), {"given": ["typo"]}),
                                   "labels of its levels"),
    "blocking on a list column": (_set(("blocking_rules", 0, "columns"), ["given_keys"]), "is not a comparison"),
    "duplicate field": (_set(("comparisons", 1, "field"), "given"), "must be unique"),
    "flag not boolean": (_set(("never_certain", "placeholder"), "yes"), "expected true or false"),
}


@pytest.mark.parametrize("name", sorted(MUTATIONS))
def test_malformed_settings_are_refused(name: str) -> None:
    change, message = MUTATIONS[name]
    doc = copy.deepcopy(V1)
    change(doc)
    with pytest.raises(SettingsError, match=message):
        parse_settings(doc)


def test_unknown_version_is_refused() -> None:
    with pytest.raises(SettingsError, match="no matching settings"):
        load_settings("v999")
    with pytest.raises(SettingsError, match="use letters"):
        load_settings("../v1")


def test_model_for_other_settings_is_refused() -> None:
    settings = load_settings("v1")
    model = load_model(settings)
    edited = parse_settings(V1, digest="0" * 64)
    with pytest.raises(SettingsError, match="retrain"):
        check_model(model, edited)
