"""``ehr serve``'s environment for its workers: the start-up heap is frozen out of the garbage
collector's full collections (``EHR_GC_FREEZE=1``) unless the operator set ``EHR_GC_FREEZE=0``."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import uvicorn
from typer.testing import CliRunner

from ehr.cli.main import app


@pytest.mark.parametrize(("given", "expected"), [(None, "1"), ("0", "0"), ("1", "1")])
def test_serve_has_its_workers_freeze_the_start_up_heap(given: str | None, expected: str, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(os, "environ", dict(os.environ))  # serve sets its workers' variables here
    if given is None:
        os.environ.pop("EHR_GC_FREEZE", None)
    else:
        os.environ["EHR_GC_FREEZE"] = given
    seen: dict[str, str | None] = {}
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: seen.update(freeze=os.environ.get("EHR_GC_FREEZE")))
    result = CliRunner().invoke(app, ["serve", "--db", f"sqlite:///{tmp_path / 'ehr.db'}", "--data-dir",
                                      str(tmp_path), "--no-inference", "--dev"])
    assert result.exit_code == 0, result.output
    assert seen == {"freeze": expected}
