"""Property tests: NEWS2 graph vs an independent chart oracle, windowing, and batching transparency."""

from __future__ import annotations

import threading
from typing import Any

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from inference.dicom import Window, apply_window
from inference.runtime import MicroBatcher
from inference.service import InferenceService

# RCP NEWS2 chart 1 (2017), written out independently of models/train/news2.py: inclusive upper bounds.
ORACLE: list[list[tuple[float, int]]] = [
    [(8, 3), (11, 1), (20, 0), (24, 2), (float("inf"), 3)],  # respiration rate
    [(91, 3), (93, 2), (95, 1), (float("inf"), 0)],  # SpO2 scale 1
    [(0, 0), (float("inf"), 2)],  # air (0) or oxygen (1)
    [(90, 3), (100, 2), (110, 1), (219, 0), (float("inf"), 3)],  # systolic BP
    [(40, 3), (50, 1), (90, 0), (110, 1), (130, 2), (float("inf"), 3)],  # pulse
    [(0, 0), (float("inf"), 3)],  # alert (0) or not (1)
    [(35.0, 3), (36.0, 1), (38.0, 0), (39.0, 1), (float("inf"), 2)],  # temperature
]


def oracle_points(row: list[float]) -> list[int]:
    return [next(p for upper, p in table if v <= upper) for table, v in zip(ORACLE, row, strict=True)]


vitals = st.tuples(
    st.integers(2, 80),
    st.integers(50, 100),
    st.integers(0, 1),
    st.integers(40, 300),
    st.integers(20, 300),
    st.integers(0, 1),
    st.integers(250, 450).map(lambda t: t / 10),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(vitals, min_size=1, max_size=16))
def test_news2_graph_matches_chart(service: InferenceService, rows: list[tuple[float, ...]]) -> None:
    model = service.get("news2")
    assert model is not None
    out = model.infer(np.array(rows, dtype=np.float32))
    for row, points, total in zip(rows, out["contributions"], out["score"], strict=True):
        expected = oracle_points(list(row))
        assert points.astype(int).tolist() == expected
        assert int(total[0]) == sum(expected)


@given(st.lists(st.floats(-3000, 3000), min_size=2, max_size=50), st.floats(-500, 500), st.floats(1, 4000))
def test_window_is_bounded_and_monotone(values: list[float], center: float, width: float) -> None:
    x = np.sort(np.array(values))
    y = apply_window(x, Window(center, width))
    assert np.all((y >= 0) & (y <= 1))
    assert np.all(np.diff(y) >= 0)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(1, 5), min_size=1, max_size=12))
def test_batching_is_transparent(sizes: list[int]) -> None:
    rng = np.random.default_rng(len(sizes))
    requests = [rng.normal(size=(n, 4)) for n in sizes]

    def run(x: NDArray[Any]) -> list[NDArray[Any]]:
        return [x * 3.0, x.sum(axis=1, keepdims=True)]

    batcher = MicroBatcher(run, max_batch=8, max_delay_s=0.001, observe=lambda *_: None, name="p")
    results: dict[int, list[NDArray[Any]]] = {}

    def client(i: int) -> None:
        results[i] = batcher.submit(requests[i]).result(timeout=30)

    threads = [threading.Thread(target=client, args=(i,)) for i in range(len(requests))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    batcher.close()
    for i, x in enumerate(requests):
        np.testing.assert_allclose(results[i][0], x * 3.0)
        np.testing.assert_allclose(results[i][1], x.sum(axis=1, keepdims=True))
