"""DICOM files through ``ehr import``: Patient and ImagingStudy from the metadata, the instance as a
Binary, the imaging model's findings stored; re-import changes nothing. Uses pydicom's bundled files."""

from __future__ import annotations

import shutil
from pathlib import Path

import pydicom
from rich.console import Console

from ehr.api.app import open_services
from ehr.auth.boundary import Principal
from ehr.cli.importer import run_import
from ehr.fhir.interactions import search
from ehr.fhir.interactions.context import Context
from ehr.settings import Settings

TEST_FILES = Path(pydicom.__file__).parent / "data" / "test_files"


def _count(settings: Settings, resource_type: str, params: list[tuple[str, str]] | None = None) -> int:
    services = open_services(settings)
    ctx = Context(base_url="http://test/fhir", principal=Principal("hospital-a"))
    try:
        with services.store.unit_of_work(write=False) as tx:
            result = search.search(ctx, services, tx, resource_type, [*(params or []), ("_total", "accurate")])
    finally:
        services.store.close()
    assert isinstance(result.body, dict)
    return int(result.body["total"])


def test_dicom_import_builds_the_study_and_runs_the_model(db_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("CT_small.dcm", "MR_small.dcm"):
        shutil.copy(TEST_FILES / name, folder / name)
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path, inference=True, mpi=False)  # counts Patients
    with (tmp_path / "report.txt").open("w") as sink:
        assert run_import(settings, [folder], "hospital-a", Console(file=sink, width=200)) == 0
    assert _count(settings, "Patient") == 2
    assert _count(settings, "ImagingStudy") == 2
    assert _count(settings, "Binary") == 2
    assert _count(settings, "DiagnosticReport") == 1  # the CT; the model refuses MR and says why
    report = (tmp_path / "report.txt").read_text()
    assert "modality MR is not one of CT" in report
    with (tmp_path / "again.txt").open("w") as sink:
        assert run_import(settings, [folder], "hospital-a", Console(file=sink, width=200)) == 0
    assert _count(settings, "Binary") == 2
    assert _count(settings, "ImagingStudy") == 2


def test_not_dicom_is_a_failed_file(tmp_path: Path) -> None:
    bad = tmp_path / "broken.dcm"
    bad.write_bytes(b"not a dicom file at all")
    settings = Settings(auth="dev", db_url=f"sqlite:///{tmp_path / 'db.sqlite'}", data_dir=tmp_path, inference=False)
    with (tmp_path / "report.txt").open("w") as sink:
        assert run_import(settings, [bad], "hospital-a", Console(file=sink, width=200)) == 1
