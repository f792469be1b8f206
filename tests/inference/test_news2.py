"""NEWS2 through the service against the RCP 2017 chart (scores, per-parameter points, clinical risk)."""

from __future__ import annotations

from typing import Any

import pytest

from inference.fhir_out import SCORE_EXT
from inference.service import InferenceService
from tests.inference.records import NOW, by_type, news2_vitals, patient


def news2(service: InferenceService, **vitals: Any) -> dict[str, Any]:
    bundle = service.suggest(patient(), news2_vitals(**vitals), NOW)
    found = [r for r in by_type(bundle, "RiskAssessment") if "(news2 v" in r["method"]["text"]]
    assert len(found) == 1, bundle
    return found[0]


def score(risk: dict[str, Any]) -> float:
    return float(next(e["valueDecimal"] for e in risk["extension"] if e["url"] == SCORE_EXT))


@pytest.mark.parametrize(
    ("vitals", "expected", "risk"),
    [
        ({}, 0, "low"),
        ({"rr": 8}, 3, "moderate"),  # single red parameter -> low-medium
        ({"rr": 9}, 1, "low"),
        ({"rr": 21, "pulse": 91}, 3, "low"),
        ({"spo2": 93, "fio2": 28}, 4, "low"),  # SpO2 92-93 = 2, oxygen = 2
        ({"sbp": 100, "temp": 38.1, "pulse": 111}, 5, "moderate"),
        ({"answer": "300202002", "sbp": 101}, 4, "moderate"),
        ({"rr": 25, "spo2": 91, "sbp": 90, "pulse": 131, "temp": 35.0}, 15, "high"),
        ({"temp": 39.1}, 2, "low"),
        ({"temp": 35.1}, 1, "low"),
    ],
)
def test_chart_scores(service: InferenceService, vitals: dict[str, Any], expected: int, risk: str) -> None:
    result = news2(service, **vitals)
    assert score(result) == expected
    assert result["prediction"][0]["qualitativeRisk"]["coding"][0]["code"] == risk


def test_fahrenheit_is_converted(service: InferenceService) -> None:
    vitals = news2_vitals()
    vitals[-1]["valueQuantity"].update(value=102.2, unit="[degF]", code="[degF]")  # 39.0 Cel -> 1 point
    bundle = service.suggest(patient(), vitals, NOW)
    risk = next(r for r in by_type(bundle, "RiskAssessment") if "(news2 v" in r["method"]["text"])
    assert score(risk) == 1


def test_missing_oxygen_record_blocks_news2(service: InferenceService) -> None:
    vitals = [v for v in news2_vitals() if v["id"] != "fio2"]
    bundle = service.suggest(patient(), vitals, NOW)
    texts = [i["details"]["text"] for o in by_type(bundle, "OperationOutcome") for i in o["issue"]]
    assert any(t.startswith("news2 v1 not computed") and "supplemental_oxygen" in t for t in texts)


def test_unknown_consciousness_answer_blocks_news2(service: InferenceService) -> None:
    bundle = service.suggest(patient(), news2_vitals(answer="12345"), NOW)
    assert not [r for r in by_type(bundle, "RiskAssessment") if "(news2 v" in r["method"]["text"]]
