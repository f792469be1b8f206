"""The trained model: m and u probabilities per comparison level and the prior, as JSON data.

Saved next to its settings (``ehr/mpi/settings/<version>.model.json``) and tied to them by the
settings file's SHA-256: a model trained for other settings refuses to load. Splink computes a
level's match weight as ``log2(m / u)`` (both clamped at 1e-300) and the null level's as 0
(``splink/internals/comparison_level.py``); ``level_weight`` is that same formula.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ehr.mpi.rules import SETTINGS_DIR, MatchSettings, SettingsError

M_U_CLAMP_MIN = 1e-300


@dataclass(frozen=True)
class LevelParameters:
    label: str
    m_probability: float
    u_probability: float


@dataclass(frozen=True)
class TrainedModel:
    """m/u per non-null level of each comparison (in settings order) and the prior λ."""

    settings_version: str
    settings_sha256: str
    probability_two_random_records_match: float
    levels: dict[str, tuple[LevelParameters, ...]]
    trained_on: str = ""

    def level_weight(self, field: str, index: int) -> float:
        """The match weight (log2 Bayes factor) of level ``index`` of ``field``; 0 for the null level."""
        if index == 0:
            return 0.0
        params = self.levels[field][index - 1]
        return math.log2(max(params.m_probability, M_U_CLAMP_MIN) / max(params.u_probability, M_U_CLAMP_MIN))

    @property
    def prior_weight(self) -> float:
        lam = self.probability_two_random_records_match
        return math.log2(lam / (1 - lam))


def model_path(version: str) -> Path:
    return SETTINGS_DIR / f"{version}.model.json"


def load_model(settings: MatchSettings, path: Path | None = None) -> TrainedModel:
    """The model trained for ``settings`` (default: ``<version>.model.json`` beside them)."""
    path = path or model_path(settings.version)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SettingsError(f"no trained model {path.name}; run scripts/train_mpi.py to train one") from None
    model = parse_model(data)
    check_model(model, settings)
    return model


def parse_model(data: Any) -> TrainedModel:
    try:
        levels = {
            field: tuple(LevelParameters(str(p["label"]), float(p["m_probability"]), float(p["u_probability"]))
                         for p in params)
            for field, params in data["comparisons"].items()
        }
        return TrainedModel(str(data["settings_version"]), str(data["settings_sha256"]),
                            float(data["probability_two_random_records_match"]), levels,
                            str(data.get("trained_on", "")))
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise SettingsError(f"the trained model is malformed ({exc!r}); retrain it with scripts/train_mpi.py") from None


def check_model(model: TrainedModel, settings: MatchSettings) -> None:
    """Refuse a model that was not trained for exactly these settings."""
    if model.settings_version != settings.version or (settings.digest and model.settings_sha256 != settings.digest):
        raise SettingsError(f"the model was trained for settings {model.settings_version} "
                            f"({model.settings_sha256[:12]}), not these ({settings.version}, {settings.digest[:12]}); "
                            "retrain it with scripts/train_mpi.py")
    for comparison in settings.comparisons:
        labels = [level.label for level in comparison.levels[1:]]
        if [p.label for p in model.levels.get(comparison.field, ())] != labels:
            raise SettingsError(f"the model's levels for {comparison.field!r} differ from the settings; retrain it")
    if not 0 < model.probability_two_random_records_match < 1:
        raise SettingsError("the model's prior must lie strictly between 0 and 1; retrain it")


def model_document(model: TrainedModel) -> dict[str, Any]:
    """``model`` as the JSON document ``parse_model`` reads."""
    return {
        "settings_version": model.settings_version,
        "settings_sha256": model.settings_sha256,
        "trained_on": model.trained_on,
        "probability_two_random_records_match": model.probability_two_random_records_match,
        "comparisons": {
            field: [{"label": p.label, "m_probability": p.m_probability, "u_probability": p.u_probability}
                    for p in params]
            for field, params in model.levels.items()
        },
    }


def save_model(model: TrainedModel, path: Path) -> None:
    path.write_text(json.dumps(model_document(model), indent=1) + "\n", encoding="utf-8")
