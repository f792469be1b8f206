"""Re-running a training script reproduces the committed model (needs the train extra).

Compared: the spec (model.json) exactly, every metric (metrics.json without the library versions), and the
ONNX graph's outputs on the model's reference input. The ONNX bytes themselves may differ in the last float
bits on another CPU or BLAS, so they are not compared byte for byte.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest

from tests.inference.records import MODELS_DIR


def reference_input(spec: dict[str, Any]) -> np.ndarray[Any, Any]:
    if "image" in spec:
        rng = np.random.default_rng(0)
        return rng.uniform(0, 1, (2, 1, *spec["image"]["size"])).astype(np.float32)
    return np.array([spec["reference_input"]], dtype=np.float32)


def outputs(folder: Path, x: np.ndarray[Any, Any]) -> list[Any]:
    session = ort.InferenceSession((folder / "model.onnx").read_bytes(), providers=["CPUExecutionProvider"])
    return list(session.run(None, {session.get_inputs()[0].name: x}))


def assert_reproduced(fresh_root: Path, name: str) -> None:
    committed, fresh = MODELS_DIR / name / "1", fresh_root / name / "1"
    spec = json.loads((committed / "model.json").read_text())
    assert json.loads((fresh / "model.json").read_text()) == spec
    old, new = (json.loads((f / "metrics.json").read_text()) for f in (committed, fresh))
    for volatile in ("environment", "onnx_vs_framework_max_abs_diff"):  # versions; last-bit float noise
        old.pop(volatile, None)
        new.pop(volatile, None)
    assert new == old
    x = reference_input(spec)
    for a, b in zip(outputs(committed, x), outputs(fresh, x), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)


def test_news2_rebuild_reproduces(tmp_path: Path) -> None:
    pytest.importorskip("onnx")
    pytest.importorskip("sklearn")
    from models.train import news2

    news2.main(tmp_path)
    assert_reproduced(tmp_path, "news2")


def test_tabular_models_rebuild_reproduce(tmp_path: Path) -> None:
    pytest.importorskip("sksurv")
    from models.train import breast_mass_malignancy, post_mi_mortality

    post_mi_mortality.main(tmp_path)
    breast_mass_malignancy.main(tmp_path)
    assert_reproduced(tmp_path, "post-mi-mortality")
    assert_reproduced(tmp_path, "breast-mass-malignancy")


@pytest.mark.slow
def test_phantom_cnn_rebuild_reproduces(tmp_path: Path) -> None:
    pytest.importorskip("torch")
    from models.train import ct_phantom_cnn

    ct_phantom_cnn.main(tmp_path)
    assert_reproduced(tmp_path, "ct-phantom-lesion")
