"""Shared helpers for the training scripts: metrics with bootstrap intervals, ONNX graphs, artefact files.

Every figure that ends up in a model card is computed here or in a training script and written to
``metrics.json``; the card is rendered from that file, never typed by hand. The model folder layout
(``models/<name>/<version>/`` with ``model.onnx``, ``model.json``, ``metrics.json``, ``card.md`` and
``SHA256SUMS``) is what :mod:`inference.repository` verifies at load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime
from numpy.typing import NDArray
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
MODELS_DIR = Path(__file__).resolve().parents[1]
ARTEFACTS = ("model.onnx", "model.json", "metrics.json", "card.md")

FloatArray = NDArray[np.float64]


def bootstrap_ci(
    metric: Callable[[NDArray[np.int64]], float], n_rows: int, seed: int, n_boot: int = 500
) -> dict[str, float]:
    """Point estimate and percentile 95 % interval of ``metric`` over rows resampled with replacement.

    ``metric`` receives an index array; resamples on which the metric is undefined (e.g. one class
    only) raise ``ValueError`` and are skipped, and the number actually used is reported.
    """
    rng = np.random.default_rng(seed)
    point = metric(np.arange(n_rows))
    values: list[float] = []
    for _ in range(n_boot):
        idx = rng.integers(0, n_rows, n_rows)
        try:
            values.append(metric(idx))
        except ValueError:
            continue
    lo, hi = np.percentile(values, [2.5, 97.5])
    return {
        "estimate": round(point, 4),
        "ci95_low": round(float(lo), 4),
        "ci95_high": round(float(hi), 4),
        "bootstrap_resamples": len(values),
    }


def calibration_slope_intercept(prob: FloatArray, outcome: FloatArray) -> dict[str, float]:
    """Logistic recalibration (Cox 1958): regress the outcome on logit(p); ideal slope 1, intercept 0."""
    from sklearn.linear_model import LogisticRegression

    p = np.clip(prob, 1e-6, 1 - 1e-6)
    logit = np.log(p / (1 - p)).reshape(-1, 1)
    fit = LogisticRegression(C=1e6, max_iter=1000).fit(logit, outcome)
    return {"slope": round(float(fit.coef_[0, 0]), 4), "intercept": round(float(fit.intercept_[0]), 4)}


def reliability_bins(prob: FloatArray, outcome: FloatArray, n_bins: int) -> list[dict[str, float]]:
    """Mean predicted vs observed frequency per quantile bin of the predicted probability."""
    order = np.argsort(prob, kind="stable")
    rows = []
    for chunk in np.array_split(order, n_bins):
        rows.append(
            {
                "n": len(chunk),
                "mean_predicted": round(float(prob[chunk].mean()), 4),
                "observed": round(float(outcome[chunk].mean()), 4),
            }
        )
    return rows


def linear_onnx(
    name: str,
    mean: FloatArray,
    scale: FloatArray,
    coef: FloatArray,
    intercept: float,
    link: str,
    baseline_cumhaz: float | None = None,
) -> onnx.ModelProto:
    """ONNX graph of a standardised linear model whose per-feature terms are outputs.

    ``contributions = coef * (x - mean) / scale`` (log-odds or log-hazard units),
    ``linear_predictor = sum(contributions) + intercept``; ``probability`` is the logistic
    sigmoid (``link="logistic"``) or the Cox/Breslow absolute risk ``1 - exp(-H0 * exp(lp))``
    (``link="cox"``).
    """
    f32 = np.float32
    inits = [
        numpy_helper.from_array(mean.astype(f32), "mean"),
        numpy_helper.from_array(scale.astype(f32), "scale"),
        numpy_helper.from_array(coef.astype(f32), "coef"),
        numpy_helper.from_array(np.array([intercept], dtype=f32), "intercept"),
        numpy_helper.from_array(np.array([1], dtype=np.int64), "axis1"),
    ]
    nodes = [
        helper.make_node("Sub", ["features", "mean"], ["centred"]),
        helper.make_node("Div", ["centred", "scale"], ["z"]),
        helper.make_node("Mul", ["z", "coef"], ["contributions"]),
        helper.make_node("ReduceSum", ["contributions", "axis1"], ["lp_raw"], keepdims=1),
        helper.make_node("Add", ["lp_raw", "intercept"], ["linear_predictor"]),
    ]
    link_inits, link_nodes = _link(link, baseline_cumhaz)
    inits += link_inits
    nodes += link_nodes
    n_features = len(mean)
    graph = helper.make_graph(
        nodes,
        name,
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", n_features])],
        [
            helper.make_tensor_value_info("probability", TensorProto.FLOAT, ["N", 1]),
            helper.make_tensor_value_info("contributions", TensorProto.FLOAT, ["N", n_features]),
            helper.make_tensor_value_info("linear_predictor", TensorProto.FLOAT, ["N", 1]),
        ],
        inits,
    )
    return finish_model(graph)


def _link(link: str, baseline_cumhaz: float | None) -> tuple[list[onnx.TensorProto], list[onnx.NodeProto]]:
    """Initialisers and nodes from ``linear_predictor`` to ``probability`` for the given link."""
    if link == "logistic":
        return [], [helper.make_node("Sigmoid", ["linear_predictor"], ["probability"])]
    if link != "cox" or baseline_cumhaz is None:
        raise ValueError(f"unknown link {link!r} (use 'logistic', or 'cox' with a baseline cumulative hazard)")
    inits = [
        numpy_helper.from_array(np.array([-baseline_cumhaz], dtype=np.float32), "neg_h0"),
        numpy_helper.from_array(np.array([1.0], dtype=np.float32), "one"),
    ]
    nodes = [
        helper.make_node("Exp", ["linear_predictor"], ["relative_hazard"]),
        helper.make_node("Mul", ["relative_hazard", "neg_h0"], ["neg_cumhaz"]),
        helper.make_node("Exp", ["neg_cumhaz"], ["survival"]),
        helper.make_node("Sub", ["one", "survival"], ["probability"]),
    ]
    return inits, nodes


def finish_model(graph: onnx.GraphProto) -> onnx.ModelProto:
    """Wrap a graph in a checked model with a fixed opset and IR version (deterministic bytes)."""
    model = helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", OPSET)], producer_name="ehr-service models/train"
    )
    model.ir_version = 8
    onnx.checker.check_model(model, full_check=True)
    return model


def run_onnx(model: onnx.ModelProto, feeds: dict[str, NDArray[Any]]) -> list[NDArray[Any]]:
    """Run a model once on CPU (used to check the exported graph against the training framework)."""
    session = onnxruntime.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    return [np.asarray(o) for o in session.run(None, feeds)]


def write_artefacts(
    folder: Path, model: onnx.ModelProto, spec: dict[str, Any], metrics: dict[str, Any], card: str
) -> None:
    """Write the model folder and its ``SHA256SUMS`` (``sha256sum`` format, verified at load)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.onnx").write_bytes(model.SerializeToString())
    (folder / "model.json").write_text(json.dumps(spec, indent=2, sort_keys=True) + "\n")
    (folder / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    (folder / "card.md").write_text(card)
    lines = [f"{hashlib.sha256((folder / n).read_bytes()).hexdigest()}  {n}" for n in ARTEFACTS]
    (folder / "SHA256SUMS").write_text("\n".join(lines) + "\n")


def environment() -> dict[str, str]:
    """Library versions the artefacts were produced with (recorded in metrics.json and the card)."""
    import sklearn

    return {
        "onnxruntime": onnxruntime.__version__,
        "onnx": onnx.__version__,
        "numpy": np.__version__,
        "scikit-learn": sklearn.__version__,
        "opset": str(OPSET),
    }


def fmt_ci(m: dict[str, float]) -> str:
    """``0.812 (95 % CI 0.771–0.850)`` from a :func:`bootstrap_ci` result."""
    return f"{m['estimate']:.3f} (95 % CI {m['ci95_low']:.3f}–{m['ci95_high']:.3f})"


def features_table(features: Sequence[dict[str, Any]]) -> str:
    """Markdown table of the FHIR inputs declared in ``model.json``."""
    rows = [
        "| Feature | FHIR source | Codes | Unit (UCUM) | Window | Plausible range |",
        "|---|---|---|---|---|---|",
    ]
    for f in features:
        codes = ", ".join(
            f"{c['system'].rsplit('/', 1)[-1]} {c['code']}{'*' if c.get('prefix') else ''}" for c in f.get("codes", [])
        )
        window = f"{f['window_hours']} h" if "window_hours" in f else "—"
        rng = f"{f['range'][0]}–{f['range'][1]}" if "range" in f else "—"
        rows.append(f"| {f['name']} | {f['source']} | {codes or '—'} | {f.get('unit', '—')} | {window} | {rng} |")
    note = "\n\n`*` = code prefix (the ICD-10 category and all its subcodes).\n"
    has_prefix = any(c.get("prefix") for f in features for c in f.get("codes", []))
    return "\n".join(rows) + (note if has_prefix else "\n")
