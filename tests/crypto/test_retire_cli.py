"""``ehr keys retire``: after ``ehr keys rotate`` re-wrapped every data key, the older KEK versions are
destroyed and every record stays readable; while a data key still needs an old version, it is refused."""

from __future__ import annotations

from pathlib import Path

import httpx
from typer.testing import CliRunner

from ehr.cli.main import app
from ehr.crypto.kek import LocalKekSource, tenant_folder
from ehr.settings import Settings
from tests.conftest import LiveServer

HEADERS = {"Content-Type": "application/fhir+json", "X-Tenant": "hospital-k"}


def _keys(db_url: str, data_dir: Path, *command: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["keys", *command, "--db", db_url, "--data-dir", str(data_dir),
                                      "--tenant", "hospital-k"])
    return result.exit_code, result.output


def test_retire_after_rotate_keeps_every_record_readable(db_url: str, tmp_path: Path) -> None:
    settings = Settings(db_url=db_url, data_dir=tmp_path, auth="dev")
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=HEADERS, timeout=60) as http:
        ids = [http.post("/Patient", json={"resourceType": "Patient", "name": [{"family": f"Kek{i}"}]}).json()["id"]
               for i in range(5)]
    folder = tmp_path / "keys" / "kek" / tenant_folder("hospital-k")
    assert _keys(db_url, tmp_path, "retire") == (0, "tenant hospital-k: KEK versions destroyed: none (nothing "
                                                    "older than the newest)\n")
    # a new version no data key was moved to yet: retiring now would lose every record
    LocalKekSource(tmp_path / "keys" / "kek").rotate("hospital-k")
    code, output = _keys(db_url, tmp_path, "retire")
    assert code == 1
    assert "run `ehr keys rotate`" in output
    assert sorted(p.name for p in folder.iterdir()) == ["1.key", "2.key"]

    assert _keys(db_url, tmp_path, "rotate")[0] == 0
    assert _keys(db_url, tmp_path, "retire") == (0, "tenant hospital-k: KEK versions destroyed: 1, 2\n")
    assert sorted(p.name for p in folder.iterdir()) == ["3.key"]
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=HEADERS, timeout=60) as http:
        for pid in ids:
            assert http.get(f"/Patient/{pid}").status_code == 200
