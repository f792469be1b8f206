"""``create_app``'s own choices: FastAPI's native OpenTelemetry is off unless ``EHR_OPENTELEMETRY=1``."""

from __future__ import annotations

from pathlib import Path

import pytest

from ehr.api.app import create_app
from ehr.settings import Settings


def test_fastapis_opentelemetry_is_off_unless_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    off = create_app(Settings(data_dir=tmp_path))
    assert [off._telemetry[k] for k in ("tracing", "metrics", "logs")] == [False, False, False]
    monkeypatch.setenv("EHR_OPENTELEMETRY", "1")
    settings = Settings.from_env()
    assert settings.opentelemetry
    on = create_app(settings)
    assert [on._telemetry[k] for k in ("tracing", "metrics", "logs")] == [True, True, True]
