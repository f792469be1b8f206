"""Index rows of official R4 examples against reviewed golden files (tests/golden/index_rows/)."""

from __future__ import annotations

import gzip
import json
from pathlib import Path
from typing import Any

import pytest

from ehr.search.extract import extract_index_rows
from ehr.search.registry import Registry

from .golden import GOLDEN_DIR, REPO, SELECTION, rows_to_json

EXAMPLES = REPO / "tests" / "golden" / "r4-examples.ndjson.gz"


def load_golden(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def test_every_selected_example_has_a_golden_file() -> None:
    assert sorted(p.stem for p in GOLDEN_DIR.glob("*.json")) == sorted(SELECTION)


@pytest.mark.parametrize("name", SELECTION)
def test_rows_match_golden(name: str) -> None:
    golden = load_golden(GOLDEN_DIR / f"{name}.json")
    rows = rows_to_json(extract_index_rows(golden["resource"], Registry.load()))
    # round-trip through JSON so that tuples compare equal to the lists stored in the file
    assert json.loads(json.dumps(rows)) == golden["rows"]


def test_extraction_never_raises_on_any_official_example() -> None:
    registry = Registry.load()
    failures = []
    count = 0
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as handle:
        for line in handle:
            resource = json.loads(line)
            count += 1
            try:
                extract_index_rows(resource, registry)
            except Exception as error:  # collect every failure, not just the first
                failures.append(f"{resource['resourceType']}/{resource.get('id')}: {error!r}")
    assert count > 2000
    assert failures == []


def test_every_example_gets_the_common_rows_it_has_data_for() -> None:
    registry = Registry.load()
    with gzip.open(EXAMPLES, "rt", encoding="utf-8") as handle:
        resources = [json.loads(line) for line in handle]
    for resource in resources:
        rows = extract_index_rows(resource, registry)
        if "id" in resource:
            assert any(t.param == "_id" and t.code == resource["id"] for t in rows.tokens)
        if "lastUpdated" in resource.get("meta", {}):
            assert any(d.param == "_lastUpdated" for d in rows.dates)
