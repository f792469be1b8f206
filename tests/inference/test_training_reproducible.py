"""Re-running a training script reproduces the committed model folder byte for byte (needs the train extra)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.inference.records import MODELS_DIR

ARTEFACTS = ("model.onnx", "model.json", "metrics.json", "card.md", "SHA256SUMS")


def assert_same(fresh: Path, name: str) -> None:
    for artefact in ARTEFACTS:
        committed = (MODELS_DIR / name / "1" / artefact).read_bytes()
        assert (fresh / name / "1" / artefact).read_bytes() == committed, f"{name}/{artefact} differs"


def test_news2_rebuild_is_identical(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("sklearn")
    from models.train import news2

    news2.main(tmp_path)
    assert_same(tmp_path, "news2")


def test_tabular_models_rebuild_identically(tmp_path: Path) -> None:
    pytest.importorskip("sksurv")
    from models.train import breast_mass_malignancy, post_mi_mortality

    post_mi_mortality.main(tmp_path)
    breast_mass_malignancy.main(tmp_path)
    assert_same(tmp_path, "post-mi-mortality")
    assert_same(tmp_path, "breast-mass-malignancy")


@pytest.mark.slow
def test_phantom_cnn_rebuild_is_identical(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from models.train import ct_phantom_cnn

    ct_phantom_cnn.main(tmp_path)
    assert_same(tmp_path, "ct-phantom-lesion")
