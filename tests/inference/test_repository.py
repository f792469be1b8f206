"""Model folders are verified against SHA256SUMS and parsed as data."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from inference.repository import ModelRepositoryError, discover, load_model_folder
from tests.inference.records import MODELS_DIR

EXPECTED = {"post-mi-mortality", "breast-mass-malignancy", "news2", "ct-phantom-lesion"}


def test_all_committed_models_verify() -> None:
    specs = discover(MODELS_DIR)
    assert {s.name for s in specs} == EXPECTED


@pytest.mark.parametrize("victim", ["model.onnx", "card.md", "model.json", "metrics.json"])
def test_tampered_artefact_is_refused(tmp_path: Path, victim: str) -> None:
    folder = tmp_path / "news2" / "1"
    shutil.copytree(MODELS_DIR / "news2" / "1", folder)
    with (folder / victim).open("ab") as fh:
        fh.write(b" ")
    with pytest.raises(ModelRepositoryError, match="SHA-256 mismatch"):
        load_model_folder(folder)


def test_missing_checksums_and_wrong_folder_are_refused(tmp_path: Path) -> None:
    folder = tmp_path / "renamed" / "1"
    shutil.copytree(MODELS_DIR / "news2" / "1", folder)
    with pytest.raises(ModelRepositoryError, match="must match"):
        load_model_folder(folder)
    (folder / "SHA256SUMS").unlink()
    with pytest.raises(ModelRepositoryError, match="no SHA256SUMS"):
        load_model_folder(folder)


def test_cards_cite_their_metrics() -> None:
    for spec in discover(MODELS_DIR):
        card = (spec.folder / "card.md").read_text()
        metrics = json.loads((spec.folder / "metrics.json").read_text())
        assert f"onnxruntime {metrics['environment']['onnxruntime']}" in card
        for key in ("Intended use", "Misuse", "Training data", "Known limits"):
            assert f"## {key}" in card
