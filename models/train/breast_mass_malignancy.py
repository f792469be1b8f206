"""Train the breast-mass malignancy model on WDBC (scikit-learn).

Writes ``models/breast-mass-malignancy/1``.

Data: Breast Cancer Wisconsin (Diagnostic), shipped inside scikit-learn (``load_breast_cancer``); Street,
Wolberg & Mangasarian, *Nuclear feature extraction for breast tumor diagnosis*, SPIE 1905 (1993).
Run from the repository root: ``python -m models.train.breast_mass_malignancy``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from inference.fhir_out import CANONICAL
from models.train import common
from models.train.cards import render_wdbc_card

NAME, VERSION, SEED, C = "breast-mass-malignancy", "1", 20240607, 1.0
CODE_SYSTEM = f"{CANONICAL}/CodeSystem/fna-nuclear-feature"
SCT = "http://snomed.info/sct"
# scikit-learn column -> (model feature name, plausible range in the dataset's units; generous bounds)
COLUMNS: list[tuple[str, str, tuple[float, float]]] = [
    ("mean radius", "mean-radius", (1.0, 60.0)),
    ("mean texture", "mean-texture", (1.0, 80.0)),
    ("mean perimeter", "mean-perimeter", (10.0, 400.0)),
    ("mean area", "mean-area", (50.0, 6000.0)),
    ("mean smoothness", "mean-smoothness", (0.01, 0.5)),
    ("mean compactness", "mean-compactness", (0.0, 1.0)),
    ("mean concavity", "mean-concavity", (0.0, 1.5)),
    ("mean concave points", "mean-concave-points", (0.0, 0.5)),
    ("mean symmetry", "mean-symmetry", (0.05, 0.6)),
    ("mean fractal dimension", "mean-fractal-dimension", (0.02, 0.2)),
]


def feature_spec(code: str, bounds: tuple[float, float]) -> dict[str, Any]:
    """model.json entry: an Observation in this project's FNA feature code system, dimensionless."""
    return {
        "name": code.replace("-", "_"),
        "source": "observation",
        "codes": [{"system": CODE_SYSTEM, "code": code}],
        "unit": "1",
        "window_hours": 24 * 90,
        "range": list(bounds),
    }


def evaluate(prob: np.ndarray[Any, Any], y: np.ndarray[Any, Any]) -> dict[str, Any]:
    """Discrimination and calibration on the held-out split."""
    yf = y.astype(np.float64)
    return {
        "auroc": common.bootstrap_ci(lambda i: float(roc_auc_score(y[i], prob[i])), len(y), SEED),
        "brier": round(float(brier_score_loss(y, prob)), 4),
        "calibration": common.calibration_slope_intercept(prob, yf),
        "reliability": common.reliability_bins(prob, yf, 5),
    }


def split() -> tuple[Any, Any, Any, Any]:
    """The seeded 70/30 stratified split of the ten mean features: X_train, X_test, y_train, y_test."""
    data = load_breast_cancer()
    cols = [list(data.feature_names).index(c) for c, _, _ in COLUMNS]
    X = data.data[:, cols].astype(np.float64)
    y = (data.target == 0).astype(np.int64)  # scikit-learn codes malignant as 0
    parts: tuple[Any, Any, Any, Any] = tuple(train_test_split(X, y, test_size=0.3, random_state=SEED, stratify=y))
    return parts


def fit(X_train: Any, y_train: Any) -> Any:
    """The scikit-learn pipeline (StandardScaler, LogisticRegression)."""
    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=5000)).fit(X_train, y_train)


def build_spec(features: list[dict[str, Any]], mean: Any) -> dict[str, Any]:
    """The model.json content."""
    return {
        "name": NAME,
        "version": VERSION,
        "kind": "tabular",
        "title": "Breast mass malignancy from FNA nuclear features",
        "features": features,
        "outputs": {"probability": "probability", "contributions": "contributions"},
        "contribution_unit": "log-odds vs. the mean training sample",
        "prediction": {
            "outcome": {
                "coding": [{"system": SCT, "code": "254837009", "display": "Malignant neoplasm of breast"}],
                "text": "Malignant breast mass",
            }
        },
        "reference_input": [round(float(v), 6) for v in mean],
    }


def main(models_dir: Path = common.MODELS_DIR) -> None:
    """Fit, export, check ONNX against scikit-learn, evaluate and write the model folder."""
    X_train, X_test, y_train, y_test = split()
    pipe = fit(X_train, y_train)
    scaler, logreg = pipe[0], pipe[1]
    model = common.linear_onnx(
        NAME, scaler.mean_, scaler.scale_, logreg.coef_[0], float(logreg.intercept_[0]), "logistic"
    )
    framework = pipe.predict_proba(X_test)[:, 1]
    prob = common.run_onnx(model, {"features": X_test.astype(np.float32)})[0][:, 0]
    max_diff = float(np.abs(prob - framework).max())
    assert max_diff < 1e-5, f"ONNX and scikit-learn disagree by {max_diff}"
    features = [feature_spec(code, bounds) for _, code, bounds in COLUMNS]
    metrics: dict[str, Any] = {
        "model": {"name": NAME, "version": VERSION, "seed": SEED, "C": C},
        "data": {
            "n_train": len(y_train),
            "n_test": len(y_test),
            "malignant_train": int(y_train.sum()),
            "malignant_test": int(y_test.sum()),
            "prevalence": round(float((y_train.sum() + y_test.sum()) / (len(y_train) + len(y_test))), 4),
        },
        "test": evaluate(framework, y_test),
        "coefficients_per_sd": {f["name"]: round(float(c), 4) for f, c in zip(features, logreg.coef_[0], strict=True)},
        "onnx_vs_framework_max_abs_diff": float(f"{max_diff:.1e}"),
        "environment": common.environment(),
    }
    spec = build_spec(features, scaler.mean_)
    common.write_artefacts(models_dir / NAME / VERSION, model, spec, metrics, render_wdbc_card(spec, metrics))
    print(f"{NAME}/{VERSION}: AUROC {common.fmt_ci(metrics['test']['auroc'])}, max |ONNX-sklearn| {max_diff:.2e}")


if __name__ == "__main__":
    main()
