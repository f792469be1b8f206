"""``create_app``'s own choices: FastAPI's native OpenTelemetry is off unless ``EHR_OPENTELEMETRY=1``; with
``gc_freeze`` (``EHR_GC_FREEZE=1``, as ``ehr serve`` sets for its workers) the start-up heap is frozen out of
the garbage collector's full collections."""

from __future__ import annotations

import gc
from pathlib import Path

import httpx
import pytest

from ehr.api.app import create_app
from ehr.settings import Settings
from tests.conftest import LiveServer


def test_fastapis_opentelemetry_is_off_unless_asked_for(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    off = create_app(Settings(data_dir=tmp_path))
    assert [off._telemetry[k] for k in ("tracing", "metrics", "logs")] == [False, False, False]
    monkeypatch.setenv("EHR_OPENTELEMETRY", "1")
    settings = Settings.from_env()
    assert settings.opentelemetry
    on = create_app(settings)
    assert [on._telemetry[k] for k in ("tracing", "metrics", "logs")] == [True, True, True]


@pytest.mark.parametrize("value", [None, "0", "1"])
def test_the_garbage_collector_freeze_is_read_from_the_environment(value: str | None,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    if value is None:
        monkeypatch.delenv("EHR_GC_FREEZE", raising=False)
    else:
        monkeypatch.setenv("EHR_GC_FREEZE", value)
    assert Settings.from_env().gc_freeze is (value == "1")


@pytest.mark.parametrize("freeze", [False, True])
def test_start_up_freezes_the_heap_only_when_asked(freeze: bool, tmp_path: Path) -> None:
    gc.unfreeze()
    try:
        with LiveServer(Settings(data_dir=tmp_path, gc_freeze=freeze, auth="dev")) as server:
            assert httpx.get(f"{server.base}/metadata").status_code == 200
            frozen = gc.get_freeze_count()
        assert (frozen > 10_000) is freeze  # the registry, the FHIR models, the routes...
    finally:
        gc.unfreeze()
