"""``ehr import`` on both engines: Bundles, NDJSON files and folders; resumable through the ledger
(a re-run imports nothing twice) and after an interruption only what failed is imported again."""

from __future__ import annotations

import getpass
import hashlib
import io
import json
import re
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from rich.console import Console
from typer.testing import CliRunner

from ehr.api.app import open_audit_log, open_services, open_store
from ehr.auth.boundary import Principal
from ehr.cli.importer import run_import
from ehr.cli.main import app
from ehr.fhir.interactions import search
from ehr.fhir.interactions.context import Context
from ehr.settings import Settings
from ehr.store.protocol import HistoryQuery

TENANT = "hospital-a"


def _patient(family: str, resource_id: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"resourceType": "Patient", "name": [{"family": family}]}
    if resource_id:
        out["id"] = resource_id
    return out


def _transaction(family: str, observations: int) -> dict[str, Any]:
    urn = f"urn:uuid:{uuid.uuid4()}"
    entries: list[dict[str, Any]] = [
        {"fullUrl": urn, "resource": _patient(family), "request": {"method": "POST", "url": "Patient"}}]
    entries += [{"resource": {"resourceType": "Observation", "status": "final", "code": {"text": f"o{i}"},
                              "subject": {"reference": urn}},
                 "request": {"method": "POST", "url": "Observation"}} for i in range(observations)]
    return {"resourceType": "Bundle", "type": "transaction", "entry": entries}


def _write_json(path: Path, value: dict[str, Any]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(value), "utf-8")
    return path


def _write_ndjson(path: Path, resources: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(json.dumps(r) for r in resources) + "\n", "utf-8")
    return path


class Store:
    """Counts read back from the database the importer wrote to."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def count(self, resource_type: str, **params: str) -> int:
        services = open_services(self.settings)
        ctx = Context(base_url="http://test/fhir", principal=Principal(tenant=TENANT))
        try:
            with services.store.unit_of_work(write=False) as tx:
                result = search.search(ctx, services, tx, resource_type, [*params.items(), ("_summary", "count")])
        finally:
            services.store.close()
        assert isinstance(result.body, dict)
        return int(result.body["total"])

    def versions(self) -> int:
        store = open_store(self.settings)
        try:
            with store.unit_of_work(write=False) as tx:
                return len(tx.history(HistoryQuery(count=100_000)))
        finally:
            store.close()

    def in_ledger(self, path: Path) -> bool:
        key = "sha256:" + hashlib.sha256(path.read_bytes()).hexdigest()
        store = open_store(self.settings)
        try:
            with store.unit_of_work(write=False) as tx:
                return tx.imported(key)
        finally:
            store.close()


def _import(settings: Settings, paths: list[Path]) -> tuple[int, dict[str, int]]:
    """Run the importer; returns its exit code and its summary line's counts."""
    out = io.StringIO()
    code = run_import(settings, paths, TENANT, Console(file=out, width=200))
    found = re.search(r"(\d+) imported, (\d+) skipped, (\d+) failed; (\d+) resources", out.getvalue())
    assert found is not None, out.getvalue()
    return code, dict(zip(("imported", "skipped", "failed", "resources"), map(int, found.groups()), strict=True))


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    # counts Patients: no golden records
    return Settings(auth="dev", db_url=db_url, data_dir=tmp_path / "data", mpi=False)


def test_bundle_ndjson_and_folder_then_rerun_skips_all(settings: Settings, tmp_path: Path) -> None:
    bundle = _write_json(tmp_path / "in" / "bundle.json", _transaction("Bundled", observations=3))
    ndjson = _write_ndjson(tmp_path / "in" / "patients.ndjson",
                           [_patient("Nd1", "nd-1"), _patient("Nd2", "nd-2"), _patient("Nd3")])
    folder = tmp_path / "folder"
    _write_json(folder / "one.json", _patient("Folder", "f-1"))
    _write_ndjson(folder / "deeper" / "more.ndjson", [_patient("Deep1", "d-1"), _patient("Deep2", "d-2")])
    (folder / "notes.txt").write_text("not FHIR", "utf-8")

    code, summary = _import(settings, [bundle, ndjson, folder])
    assert code == 0
    assert summary == {"imported": 4, "skipped": 0, "failed": 0, "resources": 4 + 3 + 1 + 2}
    store = Store(settings)
    assert store.count("Patient") == 7
    assert store.count("Observation") == 3
    patient_id = _bundled_patient_id(store)
    assert store.count("Observation", subject=f"Patient/{patient_id}") == 3
    assert store.count("Patient", _id="nd-2") == 1
    assert store.in_ledger(bundle)
    assert store.in_ledger(folder / "one.json")
    versions = store.versions()
    assert versions == 10

    code, summary = _import(settings, [bundle, ndjson, folder])
    assert code == 0
    assert summary == {"imported": 0, "skipped": 4, "failed": 0, "resources": 0}
    assert store.count("Patient") == 7
    assert store.count("Observation") == 3
    assert store.versions() == versions


def _bundled_patient_id(store: Store) -> str:
    services = open_services(store.settings)
    ctx = Context(base_url="http://test/fhir", principal=Principal(tenant=TENANT))
    try:
        with services.store.unit_of_work(write=False) as tx:
            result = search.search(ctx, services, tx, "Patient", [("family", "Bundled")])
    finally:
        services.store.close()
    body = orjson.loads(orjson.dumps(result.body))  # entries embed stored JSON as orjson.Fragment
    assert len(body["entry"]) == 1
    return str(body["entry"][0]["resource"]["id"])


def test_interrupted_import_resumes_with_only_the_failed_file(settings: Settings, tmp_path: Path) -> None:
    folder = tmp_path / "batch"
    _write_ndjson(folder / "1-first.ndjson", [_patient("First", "a-1"), _patient("First", "a-2")])
    broken = folder / "2-second.json"
    broken.write_text('{"resourceType": "Bundle", "type": "transaction", "entry": [', "utf-8")
    _write_json(folder / "3-third.json", _patient("Third", "c-1"))

    code, summary = _import(settings, [folder])
    assert code == 1
    assert summary == {"imported": 2, "skipped": 0, "failed": 1, "resources": 3}
    store = Store(settings)
    assert store.count("Patient") == 3
    assert not store.in_ledger(broken)

    _write_json(broken, _transaction("Second", observations=2))
    code, summary = _import(settings, [folder])
    assert code == 0
    assert summary == {"imported": 1, "skipped": 2, "failed": 0, "resources": 3}
    assert store.count("Patient") == 4
    assert store.count("Observation") == 2
    assert store.count("Patient", family="First") == 2
    assert store.in_ledger(broken)

    code, summary = _import(settings, [folder])
    assert (code, summary["imported"], summary["skipped"]) == (0, 0, 3)
    assert store.count("Patient") == 4


def test_invalid_resource_fails_its_file_only(settings: Settings, tmp_path: Path) -> None:
    good = _write_json(tmp_path / "good.json", _patient("Good", "g-1"))
    bad = _write_ndjson(tmp_path / "bad.ndjson", [_patient("Fine", "b-1"),
                                                  {**_patient("Bad", "b-2"), "birthDate": "2020-13-01"}])
    code, summary = _import(settings, [good, bad])
    assert code == 1
    assert summary["failed"] == 1
    store = Store(settings)
    assert store.count("Patient", _id="g-1") == 1
    assert store.count("Patient", _id="b-1") == 0, "a failed NDJSON chunk is rolled back as a whole"
    with pytest.raises(FileNotFoundError):
        run_import(settings, [tmp_path / "missing.json"], TENANT, Console(file=io.StringIO()))


def test_cli_help_and_import(tmp_path: Path) -> None:
    runner = CliRunner()
    shown = runner.invoke(app, ["import", "--help"])
    assert shown.exit_code == 0
    assert "--db" in shown.output
    assert "--tenant" in shown.output
    data = _write_json(tmp_path / "p.json", _patient("Cli", "cli-1"))
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    done = runner.invoke(app, ["import", str(data), "--db", db, "--tenant", TENANT])
    assert done.exit_code == 0, done.output
    assert Store(Settings(auth="dev", db_url=db, data_dir=tmp_path)).count("Patient", _id="cli-1") == 1
    broken = tmp_path / "broken.json"
    broken.write_text("{", "utf-8")
    failed = runner.invoke(app, ["import", str(broken), "--db", db])
    assert failed.exit_code == 1


def test_imports_are_audited_with_the_operator(settings: Settings, tmp_path: Path) -> None:
    """Each imported file's writes leave an ``import`` entry per patient, naming the operating-system
    user who ran ``ehr import``; the log still verifies."""
    bundle = _write_json(tmp_path / "in" / "t.json", _transaction("Audited", 2))
    assert run_import(settings, [bundle], TENANT, Console(file=io.StringIO())) == 0
    store = open_store(settings)
    log = open_audit_log(store, settings)
    try:
        imports = [r for r in log.rows() if r.interaction == "import"]
        assert [r.agent for r in imports] == [f"ehr-import:{getpass.getuser()}"]
        assert imports[0].patient is not None
        assert imports[0].patient.startswith("Patient/")
        assert len(imports[0].resources) == 3
        assert imports[0].tenant == TENANT
        assert log.verify().intact
    finally:
        log.close()
        store.close()
