"""``ehr import``: FHIR Bundles, single resources and NDJSON files or folders, into the store.

Each file (each chunk of an NDJSON file) is imported in one unit of work together with its entry in
the import ledger, keyed by the content's SHA-256: after an interruption, a re-run skips what was
committed and redoes what was not, so nothing is duplicated. Transaction Bundles go through the
transaction interaction; other resources are stored with their own ids (update-as-create), so
re-importing the same resource only adds a version, never a second copy.
"""

from __future__ import annotations

import getpass
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table

from ehr.auth.boundary import Action, Principal
from ehr.cli.dicom_import import DICOM_SUFFIXES, ImageAssessor, dicom_work
from ehr.errors import FhirError
from ehr.fhir.interactions import create, transaction, update
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.entries import read_entries
from ehr.fhir.interactions.runner import execute
from ehr.fhir.jsonio import loads_object
from ehr.settings import Settings
from ehr.store.protocol import Tx
from inference.dicom import DicomError

NDJSON_CHUNK = 1000
SUFFIXES = (".json", ".ndjson", *DICOM_SUFFIXES)


@dataclass(slots=True)
class FileResult:
    path: Path
    status: str
    resources: int = 0
    message: str = ""
    digest: str = ""


def run_import(settings: Settings, paths: list[Path], tenant: str, console: Console | None = None) -> int:
    """Import ``paths``; print a progress bar and a per-file table. Returns the exit code."""
    from ehr.api.app import close_services, open_services

    out = console or Console(stderr=True)
    files = sorted(collect_files(paths))
    services = open_services(settings)
    assessor = _image_models(settings, files, out)
    ctx = importer_context(tenant)
    results = []
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                      TimeRemainingColumn(), console=out) as progress:
            task = progress.add_task("importing", total=len(files))
            for path in files:
                results.append(import_file(ctx, services, path, assessor))
                progress.advance(task)
    finally:
        close_services(services)
        if assessor is not None:
            assessor.close()
    _report(out, results)
    return 1 if any(r.status == "failed" for r in results) else 0


def importer_context(tenant: str) -> Context:
    """Who imports: the audit log's agent is ``ehr-import:<operating-system user>``, so that a data
    officer sees which operator loaded the records (each file's writes are audited as an ``import``
    interaction, one entry per patient, in the write's transaction)."""
    try:
        user = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry (some containers)
        user = f"uid-{os.getuid()}"
    return Context(base_url="urn:ehr-import", principal=Principal(tenant=tenant, subject=f"ehr-import:{user}"))


def import_bundle(settings: Settings, body: dict[str, Any], tenant: str, key: str) -> bool:
    """Import one Bundle under the ledger ``key``; False when that key was imported before."""
    from ehr.api.app import close_services, open_services

    services = open_services(settings)
    ctx = importer_context(tenant)
    try:
        if _seen(services, key):
            return False
        _import_document(ctx, services, body, key)
        return True
    finally:
        close_services(services)


def collect_files(paths: list[Path]) -> Iterator[Path]:
    for path in paths:
        if path.is_dir():
            yield from (p for p in path.rglob("*") if p.is_file() and p.suffix.lower() in SUFFIXES)
        elif path.is_file():
            yield path
        else:
            raise FileNotFoundError(f"{path} does not exist")


def import_file(ctx: Context, services: Services, path: Path, assessor: ImageAssessor | None = None) -> FileResult:
    try:
        if path.suffix.lower() == ".ndjson":
            return _import_ndjson(ctx, services, path)
        if path.suffix.lower() in DICOM_SUFFIXES:
            return _import_dicom(ctx, services, path, assessor)
        raw = path.read_bytes()
        key = "sha256:" + hashlib.sha256(raw).hexdigest()
        if _seen(services, key):
            return FileResult(path, "skipped", message="already imported", digest=key)
        count = _import_document(ctx, services, loads_object(raw), key)
        return FileResult(path, "imported", count, digest=key)
    except FhirError as exc:
        return FileResult(path, "failed", message=exc.message[:200])
    except DicomError as exc:
        return FileResult(path, "failed", message=f"not readable as DICOM: {exc}"[:200])
    except (OSError, UnicodeDecodeError) as exc:
        return FileResult(path, "failed", message=f"{type(exc).__name__}: cannot read the file")


def _import_dicom(ctx: Context, services: Services, path: Path, assessor: ImageAssessor | None) -> FileResult:
    raw = path.read_bytes()
    key = "sha256:" + hashlib.sha256(raw).hexdigest()
    if _seen(services, key):
        return FileResult(path, "skipped", message="already imported", digest=key)
    work, notes = dicom_work(ctx, services, raw, assessor)
    _run(ctx, services, work, key)
    return FileResult(path, "imported", 3, "; ".join(notes)[:200], digest=key)


def _image_models(settings: Settings, files: list[Path], out: Console) -> Any:
    """The inference service, started only when DICOM files are imported and the models load."""
    if not settings.inference or not any(p.suffix.lower() in DICOM_SUFFIXES for p in files):
        return None
    from inference.repository import ModelRepositoryError
    from inference.service import InferenceService

    try:
        return InferenceService.start(settings.model_repository)
    except ModelRepositoryError as exc:
        out.print(f"image models not loaded ({exc}); DICOM files are imported without assessment")
        return None


def _import_document(ctx: Context, services: Services, body: dict[str, Any], key: str) -> int:
    if body.get("resourceType") == "Bundle" and body.get("type") in ("transaction", "batch"):
        entries = read_entries(body, ctx.base_url)
        prepared = transaction.prepare(ctx, services, entries) if body.get("type") == "transaction" else None
        _run(ctx, services, lambda tx: transaction.transaction(ctx, services, tx, entries, prepared), key)
        return len(entries)
    resources = [e["resource"] for e in body.get("entry", []) if "resource" in e] \
        if body.get("resourceType") == "Bundle" else [body]
    _run(ctx, services, lambda tx: _store_all(ctx, services, tx, resources), key)
    return len(resources)


def _import_ndjson(ctx: Context, services: Services, path: Path) -> FileResult:
    lines = [ln for ln in path.read_bytes().splitlines() if ln.strip()]
    done = skipped = 0
    for start in range(0, len(lines), NDJSON_CHUNK):
        chunk = lines[start:start + NDJSON_CHUNK]
        key = "sha256:" + hashlib.sha256(b"\n".join(chunk)).hexdigest()
        if _seen(services, key):
            skipped += len(chunk)
            continue
        resources = [loads_object(line) for line in chunk]
        _run(ctx, services, lambda tx, rs=resources: _store_all(ctx, services, tx, rs), key)
        done += len(chunk)
    status = "imported" if done else "skipped"
    return FileResult(path, status, done, f"{skipped} already imported" if skipped else "")


def _store_all(ctx: Context, services: Services, tx: Tx, resources: list[dict[str, Any]]) -> Result:
    for resource in resources:
        resource_type = str(resource.get("resourceType"))
        if resource.get("id"):
            update.update(ctx, services, tx, resource_type, str(resource["id"]), resource)
        else:
            create.create(ctx, services, tx, resource_type, resource)
    return Result(200)


def _run(ctx: Context, services: Services, fn: Any, key: str) -> None:
    def with_ledger(tx: Tx) -> Result:
        result: Result = fn(tx)
        tx.record_import(key)
        return result

    execute(services, ctx, Action("import", None), with_ledger, write=True)


def _seen(services: Services, key: str) -> bool:
    with services.store.unit_of_work(write=False) as tx:
        return tx.imported(key)


def _report(console: Console, results: list[FileResult]) -> None:
    """Per-file results. Files are shown by number and content digest, not by name: generated and
    exported files are often named after the patient."""
    table = Table("#", "file (sha256)", "status", "resources", "note")
    for number, r in enumerate(results, 1):
        table.add_row(str(number), r.digest[7:19] or r.path.suffix, r.status, str(r.resources), r.message)
    console.print(table)
    counts = {s: sum(1 for r in results if r.status == s) for s in ("imported", "skipped", "failed")}
    console.print(f"{counts['imported']} imported, {counts['skipped']} skipped, {counts['failed']} failed; "
                  f"{sum(r.resources for r in results)} resources")
