"""``ehr keys shred``: a patient's data key is destroyed; every current and historic version of their
records answers 410 (erased) over HTTP, searches no longer find them, other patients are untouched,
and the shred is audited through the service's Auditor in the same transaction."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from ehr.api.app import open_services
from ehr.audit.boundary import AuditRecord, Touched
from ehr.audit.receipts import DONE, Receipt
from ehr.cli.main import app
from ehr.crypto.maintenance import shred_patient
from ehr.settings import Settings
from ehr.store.protocol import Tx
from ehr.store.sql.store import SqlStore
from tests.conftest import LiveServer
from tests.fhir.support import count, diagnostics

TENANT = "hospital-s"
HEADERS = {"Content-Type": "application/fhir+json", "X-Tenant": TENANT}


def _seed(http: httpx.Client, family: str) -> tuple[str, str]:
    pid = http.post("/Patient", json={"resourceType": "Patient", "name": [{"family": family}],
                                      "identifier": [{"system": "urn:mrn", "value": family}]}).json()["id"]
    assert http.put(f"/Patient/{pid}", json={"resourceType": "Patient", "id": pid,
                                             "name": [{"family": family, "given": ["Second"]}]}).status_code == 200
    oid = http.post("/Observation", json={"resourceType": "Observation", "status": "final", "code": {"text": "bp"},
                                          "subject": {"reference": f"Patient/{pid}", "display": family}}).json()["id"]
    return pid, oid


def _assert_erased(response: httpx.Response) -> None:
    assert response.status_code == 410, response.text
    assert "erased" in diagnostics(response.json())


def test_shred_erases_current_and_historic_versions(db_url: str, tmp_path: Path) -> None:
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path, mpi=False)  # counts Patients; MPI: tests/mpi
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=HEADERS, timeout=60) as http:
        gone_patient, gone_obs = _seed(http, "Shredded")
        kept_patient, kept_obs = _seed(http, "Kept")
        args = ["keys", "shred", "--patient", gone_patient, "--db", db_url, "--data-dir", str(tmp_path)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 0, result.output
        assert f"data key destroyed at {TENANT}" in result.output

        for url in (f"/Patient/{gone_patient}", f"/Patient/{gone_patient}/_history/1",
                    f"/Patient/{gone_patient}/_history/2", f"/Patient/{gone_patient}/_history",
                    f"/Observation/{gone_obs}", f"/Observation/{gone_obs}/_history/1"):
            _assert_erased(http.get(url))
        assert count(http, "Patient", _id=gone_patient) == 0
        assert count(http, "Observation", subject=f"Patient/{gone_patient}") == 0
        assert count(http, "Patient", family="Shredded") == 0
        assert count(http, "Patient") == 1
        history = http.get("/_history", params={"_count": "100"}).json()
        assert {e["fullUrl"].rsplit("/", 1)[-1] for e in history["entry"]} == {kept_patient, kept_obs}

        assert http.get(f"/Patient/{kept_patient}/_history/1").status_code == 200
        assert http.get(f"/Observation/{kept_obs}").json()["subject"]["display"] == "Kept"
        assert count(http, "Patient", family="Kept") == 1
        assert http.put(f"/Patient/{gone_patient}", json={"resourceType": "Patient", "id": gone_patient}
                        ).status_code == 410

        again = CliRunner().invoke(app, args)
        assert again.exit_code == 1
        assert "nothing was erased" in again.output


@dataclass
class Recorder:
    events: list[tuple[AuditRecord, bool]] = field(default_factory=list)
    fail: bool = False

    def record(self, event: AuditRecord, tx: Tx | None) -> Receipt:
        if self.fail:
            raise RuntimeError("the audit log is not writable")
        self.events.append((event, tx is not None))
        return DONE


def _services(settings: Settings, auditor: Recorder) -> Any:
    return replace(open_services(settings), auditor=auditor)


def test_shred_is_audited_in_its_own_transaction(db_url: str, tmp_path: Path) -> None:
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path)
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=HEADERS, timeout=60) as http:
        pid, _ = _seed(http, "Audited")
        failing = _services(settings, Recorder(fail=True))
        with pytest.raises(RuntimeError):
            shred_patient(failing, failing.store, pid, TENANT, "cli:officer")
        failing.store.close()
        assert http.get(f"/Patient/{pid}").status_code == 200  # no audit entry, no shred

        recorder = Recorder()
        services = _services(settings, recorder)
        assert isinstance(services.store, SqlStore)
        assert shred_patient(services, services.store, pid, None, "cli:officer") == [TENANT]
        services.store.close()
        _assert_erased(http.get(f"/Patient/{pid}"))
    assert recorder.events == [(AuditRecord(interaction="keys-shred", tenant=TENANT, subject="cli:officer",
                                            status=200, resource_type="Patient", id=pid,
                                            touched=(Touched(f"Patient/{pid}", (f"Patient/{pid}",), TENANT),)),
                                True)]
