"""Encode the NEWS2 chart as an ONNX graph and write ``models/news2/1``.

Royal College of Physicians. *National Early Warning Score (NEWS) 2: Standardising the assessment of
acute-illness severity in the NHS.* London: RCP, 2017 — chart 1 (SpO₂ scale 1 only).
Each parameter's points are a banded step function ``base + Σ_k [x > edge_k]·delta_k``; the graph
outputs the points per parameter (``contributions``) and their sum (``score``).
Run from the repository root: ``python -m models.train.news2``.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import numpy as np
from onnx import TensorProto, helper, numpy_helper

from models.train import common
from models.train.cards import render_news2_card

NAME, VERSION = "news2", "1"
LOINC, SCT = "http://loinc.org", "http://snomed.info/sct"
WINDOW = 12
# RCP chart as (inclusive low, inclusive high, points); None = open end. Values are recorded to the
# chart's precision: whole numbers, temperature to one decimal.
CHART: dict[str, list[tuple[float | None, float | None, int]]] = {
    "respiratory_rate": [(None, 8, 3), (9, 11, 1), (12, 20, 0), (21, 24, 2), (25, None, 3)],
    "spo2_scale1": [(None, 91, 3), (92, 93, 2), (94, 95, 1), (96, None, 0)],
    "supplemental_oxygen": [(0, 0, 0), (1, 1, 2)],
    "systolic_bp": [(None, 90, 3), (91, 100, 2), (101, 110, 1), (111, 219, 0), (220, None, 3)],
    "pulse": [(None, 40, 3), (41, 50, 1), (51, 90, 0), (91, 110, 1), (111, 130, 2), (131, None, 3)],
    "not_alert": [(0, 0, 0), (1, 1, 3)],
    "temperature": [(None, 35.0, 3), (35.1, 36.0, 1), (36.1, 38.0, 0), (38.1, 39.0, 1), (39.1, None, 2)],
}
FEATURES: list[dict[str, Any]] = [
    {
        "name": "respiratory_rate",
        "source": "observation",
        "codes": [{"system": LOINC, "code": "9279-1"}],
        "unit": "/min",
        "window_hours": WINDOW,
        "range": [2, 80],
    },
    {
        "name": "spo2_scale1",
        "source": "observation",
        "codes": [{"system": LOINC, "code": "59408-5"}, {"system": LOINC, "code": "2708-6"}],
        "unit": "%",
        "window_hours": WINDOW,
        "range": [50, 100],
    },
    {
        "name": "supplemental_oxygen",
        "source": "observation_flag",
        "window_hours": WINDOW,
        "codes": [
            {"system": LOINC, "code": "3150-0", "unit": "%", "above": 21.0, "range": [21, 100]},
            {"system": LOINC, "code": "3151-8", "unit": "L/min", "above": 0.0, "range": [0, 70]},
        ],
    },
    {
        "name": "systolic_bp",
        "source": "observation",
        "codes": [{"system": LOINC, "code": "8480-6"}],
        "unit": "mm[Hg]",
        "window_hours": WINDOW,
        "range": [40, 300],
    },
    {
        "name": "pulse",
        "source": "observation",
        "codes": [{"system": LOINC, "code": "8867-4"}],
        "unit": "/min",
        "window_hours": WINDOW,
        "range": [20, 300],
    },
    {
        "name": "not_alert",
        "source": "observation_coded",
        "window_hours": WINDOW,
        "codes": [{"system": SCT, "code": "1104441000000107"}],
        "value_map": {
            f"{SCT}|248234008": 0,
            f"{SCT}|300202002": 1,
            f"{SCT}|450847001": 1,
            f"{SCT}|422768004": 1,
            f"{SCT}|130987000": 1,
        },
    },
    {
        "name": "temperature",
        "source": "observation",
        "codes": [{"system": LOINC, "code": "8310-5"}],
        "unit": "Cel",
        "window_hours": WINDOW,
        "range": [25, 45],
    },
]


def step_encoding(bands: list[tuple[float | None, float | None, int]]) -> tuple[int, list[float], list[int]]:
    """(base points, edges, deltas) such that points(x) = base + Σ [x > edge]·delta."""
    base, edges, deltas = bands[0][2], [], []
    for (_, high, points), (_, _, nxt) in itertools.pairwise(bands):
        assert high is not None
        edges.append(float(high))
        deltas.append(nxt - points)
    return base, edges, deltas


def build_graph() -> Any:
    """ONNX graph: Gather the parameter of each edge, compare, weight, and sum per parameter."""
    names = [f["name"] for f in FEATURES]
    cols, edges, deltas, base = [], [], [], []
    for j, name in enumerate(names):
        b, e, d = step_encoding(CHART[name])
        base.append(b)
        cols += [j] * len(e)
        edges += e
        deltas += d
    segment = np.zeros((len(cols), len(names)), dtype=np.float32)
    segment[np.arange(len(cols)), cols] = 1.0
    f32 = np.float32
    inits = [
        numpy_helper.from_array(np.array(cols, dtype=np.int64), "edge_column"),
        numpy_helper.from_array(np.array(edges, dtype=f32), "edges"),
        numpy_helper.from_array(np.array(deltas, dtype=f32), "deltas"),
        numpy_helper.from_array(segment, "segment"),
        numpy_helper.from_array(np.array(base, dtype=f32), "base"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
    ]
    nodes = [
        helper.make_node("Gather", ["features", "edge_column"], ["per_edge"], axis=1),
        helper.make_node("Greater", ["per_edge", "edges"], ["above"]),
        helper.make_node("Cast", ["above"], ["above_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["above_f", "deltas"], ["weighted"]),
        helper.make_node("MatMul", ["weighted", "segment"], ["steps"]),
        helper.make_node("Add", ["steps", "base"], ["contributions"]),
        helper.make_node("ReduceSum", ["contributions", "axis1"], ["score"], keepdims=1),
    ]
    graph = helper.make_graph(
        nodes,
        NAME,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", len(names)])],
        [
            helper.make_tensor_value_info("score", TensorProto.FLOAT, ["N", 1]),
            helper.make_tensor_value_info("contributions", TensorProto.FLOAT, ["N", len(names)]),
        ],
        inits,
    )
    return common.finish_model(graph)


def chart_points(name: str, value: float) -> int:
    """Reference lookup straight from the chart table (independent of the step encoding)."""
    for low, high, points in CHART[name]:
        if (low is None or value >= low) and (high is None or value <= high):
            return points
    raise ValueError(f"{value} not covered by the {name} chart")


def verification_cases() -> list[tuple[list[float], list[int]]]:
    """Every band edge of every parameter on an otherwise normal patient, plus mixed whole-patient rows."""
    normal = [16.0, 97.0, 0.0, 120.0, 70.0, 0.0, 37.0]
    cases = []
    for j, f in enumerate(FEATURES):
        for low, high, _ in CHART[f["name"]]:
            for v in (low, high):
                if v is not None:
                    row = list(normal)
                    row[j] = float(v)
                    cases.append(row)
    cases += [[7, 85, 1, 85, 140, 1, 34.5], [22, 94, 0, 105, 95, 0, 38.5], [13, 96, 0, 220, 35, 0, 39.1]]
    return [(row, [chart_points(f["name"], v) for f, v in zip(FEATURES, row, strict=True)]) for row in cases]


def main(models_dir: Path = common.MODELS_DIR) -> None:
    """Build, verify against the chart, and write the model folder."""
    model = build_graph()
    cases = verification_cases()
    x = np.array([row for row, _ in cases], dtype=np.float32)
    score, contrib = common.run_onnx(model, {"features": x})
    passed = sum(
        int(np.array_equal(c.astype(int), exp) and int(s[0]) == sum(exp))
        for c, s, (_, exp) in zip(contrib, score, cases, strict=True)
    )
    assert passed == len(cases), f"{len(cases) - passed} NEWS2 chart cases fail"
    metrics: dict[str, Any] = {
        "model": {"name": NAME, "version": VERSION},
        "verification": {"cases": len(cases), "passed": passed},
        "environment": common.environment(),
    }
    spec = {
        "name": NAME,
        "version": VERSION,
        "kind": "tabular",
        "title": "NEWS2 acute-deterioration score",
        "features": FEATURES,
        "outputs": {"score": "score", "contributions": "contributions"},
        "contribution_unit": "NEWS2 points",
        "prediction": {
            "outcome": {
                "text": "Acute clinical deterioration (NEWS2)",
            }
        },
        "risk_rule": {
            "type": "news2",
            "bands": [[0, "low"], [5, "moderate"], [7, "high"]],
            "single_parameter_red": 3,
        },
        "reference_input": [16.0, 97.0, 0.0, 120.0, 70.0, 0.0, 37.0],
    }
    common.write_artefacts(models_dir / NAME / VERSION, model, spec, metrics, render_news2_card(spec, metrics))
    print(f"{NAME}/{VERSION}: {passed}/{len(cases)} chart cases reproduced")


if __name__ == "__main__":
    main()
