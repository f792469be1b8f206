"""Train the post-MI one-year mortality model on WHAS500 (scikit-survival).

Writes ``models/post-mi-mortality/1``.

Data: the Worcester Heart Attack Study subset of 500 patients shipped inside scikit-survival
(``sksurv.datasets.load_whas500``; Hosmer, Lemeshow & May, *Applied Survival Analysis*, 2nd ed., Wiley 2008).
Model: ridge-penalised Cox proportional hazards on standardised features, absolute one-year risk via the
Breslow baseline cumulative hazard.
Run from the repository root: ``python -m models.train.post_mi_mortality``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.model_selection import train_test_split
from sksurv.datasets import load_whas500
from sksurv.linear_model import CoxPHSurvivalAnalysis
from sksurv.metrics import brier_score, concordance_index_censored, cumulative_dynamic_auc
from sksurv.nonparametric import kaplan_meier_estimator

from models.train import common
from models.train.cards import render_post_mi_card

NAME, VERSION, SEED, HORIZON_DAYS = "post-mi-mortality", "1", 20240607, 365.0
LOINC, SCT, ICD10 = "http://loinc.org", "http://snomed.info/sct", "http://hl7.org/fhir/sid/icd-10"

# (column in WHAS500, model.json feature); order is the ONNX input order.
FEATURES: list[tuple[str, dict[str, Any]]] = [
    ("age", {"name": "age", "source": "age", "unit": "a", "range": [18, 110]}),
    ("gender", {"name": "sex_female", "source": "sex"}),
    (
        "hr",
        {
            "name": "heart_rate",
            "source": "observation",
            "codes": [{"system": LOINC, "code": "8867-4"}],
            "unit": "/min",
            "window_hours": 24,
            "range": [20, 300],
        },
    ),
    (
        "sysbp",
        {
            "name": "systolic_bp",
            "source": "observation",
            "codes": [{"system": LOINC, "code": "8480-6"}],
            "unit": "mm[Hg]",
            "window_hours": 24,
            "range": [40, 300],
        },
    ),
    (
        "diasbp",
        {
            "name": "diastolic_bp",
            "source": "observation",
            "codes": [{"system": LOINC, "code": "8462-4"}],
            "unit": "mm[Hg]",
            "window_hours": 24,
            "range": [20, 200],
        },
    ),
    (
        "bmi",
        {
            "name": "bmi",
            "source": "observation",
            "codes": [{"system": LOINC, "code": "39156-5"}],
            "unit": "kg/m2",
            "window_hours": 8760,
            "range": [10, 80],
        },
    ),
    (
        "chf",
        {
            "name": "heart_failure",
            "source": "condition",
            "codes": [{"system": SCT, "code": "42343007"}, {"system": ICD10, "code": "I50", "prefix": True}],
        },
    ),
    (
        "afb",
        {
            "name": "atrial_fibrillation",
            "source": "condition",
            "codes": [{"system": SCT, "code": "49436004"}, {"system": ICD10, "code": "I48", "prefix": True}],
        },
    ),
    (
        "av3",
        {
            "name": "complete_av_block",
            "source": "condition",
            "codes": [
                {"system": SCT, "code": "27885002"},
                {"system": ICD10, "code": "I44.2", "prefix": True},
            ],
        },
    ),
    (
        "miord",
        {
            "name": "prior_mi",
            "source": "condition",
            "codes": [
                {"system": SCT, "code": "1755008"},
                {"system": ICD10, "code": "I25.2", "prefix": True},
                {"system": ICD10, "code": "I22", "prefix": True},
            ],
        },
    ),
]
ELIGIBILITY = {
    "name": "acute_mi",
    "source": "condition",
    "window_hours": 720,
    "codes": [
        {"system": SCT, "code": "22298006"},
        {"system": SCT, "code": "57054005"},
        {"system": ICD10, "code": "I21", "prefix": True},
        {"system": ICD10, "code": "I22", "prefix": True},
    ],
}


def load() -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """WHAS500 features in model order (floats; categories 0/1) and the structured (event, time) outcome."""
    X, y = load_whas500()
    cols = [c for c, _ in FEATURES]
    return np.column_stack([np.asarray(X[c], dtype=np.float64) for c in cols]), y


def cindex(y: Any, risk: np.ndarray[Any, Any]) -> float:
    """Harrell's concordance index."""
    return float(concordance_index_censored(y["fstat"], y["lenfol"], risk)[0])


def _cindex_of(y: Any, risk: np.ndarray[Any, Any]) -> Callable[[np.ndarray[Any, Any]], float]:
    """c-index of a resampled index set (for :func:`common.bootstrap_ci`)."""

    def metric(idx: np.ndarray[Any, Any]) -> float:
        return cindex(y[idx], risk[idx])

    return metric


def km_risk(y: Any) -> float:
    """Kaplan–Meier estimate of mortality by the horizon."""
    times, surv = kaplan_meier_estimator(y["fstat"], y["lenfol"])
    return float(1.0 - surv[np.searchsorted(times, HORIZON_DAYS, side="right") - 1])


def subgroup_results(y_test: Any, X_test: np.ndarray[Any, Any], risk: np.ndarray[Any, Any]) -> dict[str, Any]:
    """c-index with bootstrap interval by sex and by age band (the only demographics WHAS500 records)."""
    age_col, sex_col = 0, 1
    subgroups = {}
    for label, mask in [
        ("male", X_test[:, sex_col] == 0),
        ("female", X_test[:, sex_col] == 1),
        ("age<70", X_test[:, age_col] < 70),
        ("age>=70", X_test[:, age_col] >= 70),
    ]:
        ys, rs = y_test[mask], risk[mask]
        subgroups[label] = {
            "n": int(mask.sum()),
            "deaths": int(ys["fstat"].sum()),
            "c_index": common.bootstrap_ci(_cindex_of(ys, rs), int(mask.sum()), SEED),
        }
    return subgroups


def evaluate(
    y_train: Any,
    y_test: Any,
    X_test: np.ndarray[Any, Any],
    risk: np.ndarray[Any, Any],
    prob: np.ndarray[Any, Any],
) -> dict[str, Any]:
    """Discrimination, calibration and subgroup results on the held-out split."""

    def td_auc(idx: np.ndarray[Any, Any]) -> float:
        return float(cumulative_dynamic_auc(y_train, y_test[idx], risk[idx], [HORIZON_DAYS])[0][0])

    order = np.argsort(prob, kind="stable")
    bins = [
        {
            "n": len(c),
            "mean_predicted": round(float(prob[c].mean()), 4),
            "observed_km": round(km_risk(y_test[c]), 4),
        }
        for c in np.array_split(order, 4)
    ]
    subgroups = subgroup_results(y_test, X_test, risk)
    return {
        "c_index": common.bootstrap_ci(_cindex_of(y_test, risk), len(risk), SEED),
        "auroc_1y": common.bootstrap_ci(td_auc, len(risk), SEED),
        "brier_1y": round(float(brier_score(y_train, y_test, 1 - prob, HORIZON_DAYS)[1][0]), 4),
        "calibration_1y": {
            "mean_predicted": round(float(prob.mean()), 4),
            "observed_km": round(km_risk(y_test), 4),
            "quartiles": bins,
        },
        "subgroups": subgroups,
    }


def split() -> tuple[Any, Any, Any, Any]:
    """The seeded 70/30 split stratified on death: X_train, X_test, y_train, y_test."""
    X, y = load()
    parts: tuple[Any, Any, Any, Any] = tuple(
        train_test_split(X, y, test_size=0.3, random_state=SEED, stratify=y["fstat"])
    )
    return parts


def fit(X_train: Any, y_train: Any) -> tuple[Any, Any, Any, Callable[[Any], Any]]:
    """(cox, mean, scale, predict) where ``predict`` maps raw features to scikit-survival's 1-year risk."""
    mean, scale = X_train.mean(axis=0), X_train.std(axis=0)
    cox = CoxPHSurvivalAnalysis(alpha=0.1, ties="breslow").fit((X_train - mean) / scale, y_train)

    def predict(X: Any) -> Any:
        return np.array([1 - fn(HORIZON_DAYS) for fn in cox.predict_survival_function((X - mean) / scale)])

    return cox, mean, scale, predict


def build_spec(mean: np.ndarray[Any, Any]) -> dict[str, Any]:
    """The model.json content."""
    return {
        "name": NAME,
        "version": VERSION,
        "kind": "tabular",
        "title": "Post-MI one-year all-cause mortality risk",
        "features": [f for _, f in FEATURES],
        "eligibility": ELIGIBILITY,
        "outputs": {"probability": "probability", "contributions": "contributions"},
        "contribution_unit": "log hazard ratio vs. the mean training patient",
        "prediction": {
            "outcome": {
                "coding": [{"system": SCT, "code": "419099009", "display": "Dead"}],
                "text": "All-cause death within one year",
            },
            "horizon_days": HORIZON_DAYS,
        },
        "reference_input": [round(float(v), 4) for v in mean],
    }


def main(models_dir: Path = common.MODELS_DIR) -> None:
    """Fit, export, check ONNX against scikit-survival, evaluate and write the model folder."""
    X_train, X_test, y_train, y_test = split()
    cox, mean, scale, predict = fit(X_train, y_train)
    h0 = float(cox.cum_baseline_hazard_(HORIZON_DAYS))
    model = common.linear_onnx(NAME, mean, scale, cox.coef_, 0.0, "cox", baseline_cumhaz=h0)
    z_test = (X_test - mean) / scale
    framework = predict(X_test)
    prob, _contrib, _ = common.run_onnx(model, {"features": X_test.astype(np.float32)})
    max_diff = float(np.abs(prob[:, 0] - framework).max())
    assert max_diff < 1e-5, f"ONNX and scikit-survival disagree by {max_diff}"
    metrics: dict[str, Any] = {
        "model": {
            "name": NAME,
            "version": VERSION,
            "seed": SEED,
            "horizon_days": HORIZON_DAYS,
            "penalty_alpha": 0.1,
            "baseline_cumulative_hazard_1y": round(h0, 6),
        },
        "data": {
            "n_train": len(y_train),
            "n_test": len(y_test),
            "deaths_train": int(y_train["fstat"].sum()),
            "deaths_test": int(y_test["fstat"].sum()),
        },
        "test": evaluate(y_train, y_test, X_test, cox.predict(z_test), framework),
        "coefficients_per_sd": {f["name"]: round(float(c), 4) for (_, f), c in zip(FEATURES, cox.coef_, strict=True)},
        "onnx_vs_framework_max_abs_diff": float(f"{max_diff:.1e}"),
        "environment": common.environment(),
    }
    spec = build_spec(mean)
    common.write_artefacts(models_dir / NAME / VERSION, model, spec, metrics, render_post_mi_card(spec, metrics))
    print(f"{NAME}/{VERSION}: c-index {common.fmt_ci(metrics['test']['c_index'])}, max |ONNX-sksurv| {max_diff:.2e}")


if __name__ == "__main__":
    main()
