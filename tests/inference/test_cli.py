"""``python -m inference``: lists models, and --require-gpu fails clearly on a CPU-only host."""

from __future__ import annotations

import onnxruntime as ort
import pytest

from inference.__main__ import main
from inference.runtime import CUDA
from tests.inference.records import MODELS_DIR


def test_check_lists_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--models-dir", str(MODELS_DIR)]) == 0
    out = capsys.readouterr().out
    for name in ("post-mi-mortality/1", "breast-mass-malignancy/1", "news2/1", "ct-phantom-lesion/1"):
        assert name in out


@pytest.mark.skipif(CUDA in ort.get_available_providers(), reason="this environment has CUDA")
def test_require_gpu_exits_2_with_reason(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--models-dir", str(MODELS_DIR), "--require-gpu"]) == 2
    assert "install the 'gpu' extra" in capsys.readouterr().err.lower()


def test_broken_repository_exits_2(tmp_path: object, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--models-dir", str(tmp_path)]) == 2
    assert "no models/<name>/<version>/model.json" in capsys.readouterr().err
