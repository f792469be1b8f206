"""Golden index rows for a selection of official R4 examples: shared helpers and the generator.

Each ``tests/golden/index_rows/<Type>-<id>.json`` holds the example resource and the rows that
``extract_index_rows`` must produce for it.  Regenerate (after reviewing a deliberate change) with::

    PYTHONPATH=. python -m tests.search.golden            # from the official package
    PYTHONPATH=. python -m tests.search.golden --refresh  # from the resources already in the files
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import sys
from pathlib import Path
from typing import Any

from ehr.search.extract import extract_index_rows
from ehr.search.index_rows import IndexRows
from ehr.search.registry import Registry

REPO = Path(__file__).resolve().parents[2]
GOLDEN_DIR = REPO / "tests" / "golden" / "index_rows"
SELECTION = (
    "AllergyIntolerance-example", "AllergyIntolerance-medication", "Condition-example", "Condition-f201",
    "DiagnosticReport-f201", "DiagnosticReport-ultrasound", "Encounter-example", "Encounter-f201",
    "Immunization-example", "Location-1", "MedicationRequest-medrx0302", "MedicationRequest-medrx0311",
    "Observation-abdo-tender", "Observation-blood-pressure", "Observation-bloodgroup",
    "Observation-date-lastmp", "Observation-example", "Observation-eye-color", "Observation-f206",
    "Organization-hl7", "Organization-f001", "Patient-example", "Patient-f001", "Practitioner-example",
    "Practitioner-f201", "Claim-100150", "Group-101", "Bundle-bundle-example",
)  # fmt: skip


def rows_to_json(rows: IndexRows) -> dict[str, list[dict[str, Any]]]:
    """IndexRows as plain JSON data (non-empty lists only)."""
    data = dataclasses.asdict(rows)
    return {name: items for name, items in data.items() if items}


def golden_document(resource: dict[str, Any], registry: Registry) -> dict[str, Any]:
    return {"resource": resource, "rows": rows_to_json(extract_index_rows(resource, registry))}


def _derive_module() -> Any:
    spec = importlib.util.spec_from_file_location("derive", REPO / "scripts" / "derive_search_parameters.py")
    if spec is None or spec.loader is None:
        raise SystemExit("scripts/derive_search_parameters.py is missing")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _stored() -> dict[str, Any]:
    """The example resources the golden files already hold, by file name."""
    return {path.name: json.loads(path.read_text(encoding="utf-8"))["resource"]
            for path in sorted(GOLDEN_DIR.glob("*.json"))}


def main() -> None:
    wanted = {f"{name}.json" for name in SELECTION}
    if "--refresh" in sys.argv[1:]:
        files = {name: data for name, data in _stored().items() if name in wanted}
    else:
        derive = _derive_module()
        files = {name: data for name, data in derive.read_package(derive.fetch_tarball()) if name in wanted}
    missing = wanted - files.keys()
    if missing:
        raise SystemExit(f"not in the package: {sorted(missing)}")
    registry = Registry.load()
    GOLDEN_DIR.mkdir(parents=True, exist_ok=True)
    for name, resource in sorted(files.items()):
        text = json.dumps(golden_document(resource, registry), indent=1, sort_keys=True)
        (GOLDEN_DIR / name).write_text(text + "\n", encoding="utf-8")
    print(f"wrote {len(files)} golden files to {GOLDEN_DIR}")


if __name__ == "__main__":
    main()
