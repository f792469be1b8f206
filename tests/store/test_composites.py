"""``idx_composite`` rows of the composites in the golden official examples: one row per component of
each combination, numbered, every field of the component row kept in its column."""

from __future__ import annotations

import dataclasses

import pytest

from ehr.search.extract import extract_index_rows
from ehr.search.index_rows import DateRow
from ehr.search.registry import Registry
from ehr.store.sql.composites import COLUMNS, table_rows
from tests.search.golden import GOLDEN_DIR
from tests.search.test_golden_index_rows import load_golden

WITH_COMPOSITES = sorted(p.stem for p in GOLDEN_DIR.glob("*.json") if load_golden(p)["rows"].get("composites"))


def test_the_golden_examples_hold_composites() -> None:
    assert {"Observation-blood-pressure", "Observation-bloodgroup", "Observation-example"} <= set(WITH_COMPOSITES)


@pytest.mark.parametrize("name", WITH_COMPOSITES)
def test_each_component_is_one_row_of_its_combination(name: str) -> None:
    resource = load_golden(GOLDEN_DIR / f"{name}.json")["resource"]
    composites = extract_index_rows(resource, Registry.load()).composites
    rows = [dict(zip(COLUMNS, row, strict=True)) for row in table_rows(7, resource["resourceType"], composites)]
    assert len(rows) == sum(len(c.components) for c in composites)
    by_combo = {(r["combo"], r["slot"]): r for r in rows}
    for combo, composite in enumerate(composites):
        for slot, component in enumerate(composite.components):
            row = by_combo[(combo, slot)]
            assert (row["pk"], row["param"]) == (7, composite.param)
            for field in dataclasses.fields(component):
                if field.name == "param":
                    continue
                column = f"date_{field.name}" if isinstance(component, DateRow) else field.name
                assert row[column] == getattr(component, field.name)
