"""Execution-provider choice, --require-gpu, and the micro-batcher."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
import onnxruntime as ort
import pytest
from numpy.typing import NDArray

from inference.runtime import CPU, CUDA, GpuUnavailableError, MicroBatcher, build_session, select_providers
from inference.service import InferenceService
from tests.inference.records import MODELS_DIR


def test_cuda_preferred_when_offered() -> None:
    assert select_providers(False, [CUDA, CPU]) == [CUDA, CPU]
    assert select_providers(True, [CUDA, CPU]) == [CUDA, CPU]


def test_cpu_only_without_cuda() -> None:
    assert select_providers(False, [CPU]) == [CPU]
    with pytest.raises(GpuUnavailableError, match="gpu"):
        select_providers(True, [CPU])


@pytest.mark.skipif(CUDA in ort.get_available_providers(), reason="this environment has CUDA")
def test_require_gpu_fails_at_start_here() -> None:
    with pytest.raises(GpuUnavailableError, match="--require-gpu"):
        InferenceService.start(MODELS_DIR, require_gpu=True)


def test_batcher_merges_queued_requests_and_splits_results() -> None:
    started, release = threading.Event(), threading.Event()
    batches: list[int] = []

    def run(x: NDArray[Any]) -> list[NDArray[Any]]:
        started.set()
        release.wait(timeout=30)
        return [x * 2, x.sum(axis=1, keepdims=True)]

    batcher = MicroBatcher(run, max_batch=64, max_delay_s=0.05, observe=lambda rows, _: batches.append(rows), name="t")
    first = batcher.submit(np.ones((1, 3)))
    assert started.wait(timeout=30)
    later = [batcher.submit(np.full((2, 3), float(i))) for i in range(5)]
    release.set()
    assert first.result(timeout=30)[0].tolist() == [[2.0, 2.0, 2.0]]
    for i, fut in enumerate(later):
        doubled, summed = fut.result(timeout=30)
        assert doubled.shape == (2, 3)
        assert np.all(doubled == 2 * i)
        assert np.all(summed == 3 * i)
    batcher.close()
    assert batches == [1, 10]


def test_batcher_respects_max_batch_and_propagates_errors() -> None:
    gate = threading.Event()

    def run(x: NDArray[Any]) -> list[NDArray[Any]]:
        gate.wait(timeout=30)
        if np.any(x < 0):
            raise ValueError("negative")
        return [x]

    sizes: list[int] = []
    batcher = MicroBatcher(run, max_batch=4, max_delay_s=0.05, observe=lambda rows, _: sizes.append(rows), name="t")
    futures = [batcher.submit(np.zeros((1, 1))) for _ in range(8)]
    gate.set()
    for f in futures:
        f.result(timeout=30)
    bad = batcher.submit(-np.ones((1, 1)))
    with pytest.raises(ValueError, match="negative"):
        bad.result(timeout=30)
    batcher.close()
    assert max(sizes) <= 4
    assert sum(sizes) == 9


@pytest.mark.skipif(CUDA in ort.get_available_providers(), reason="this environment has CUDA")
def test_session_never_silently_falls_back_when_gpu_required() -> None:
    model_bytes = (MODELS_DIR / "news2" / "1" / "model.onnx").read_bytes()
    with pytest.raises(GpuUnavailableError, match="gpu"):
        build_session(model_bytes, [CUDA, CPU], require_gpu=True, intra_op_threads=1)
    session = build_session(model_bytes, [CUDA, CPU], require_gpu=False, intra_op_threads=1)
    assert session.get_providers() == [CPU]
