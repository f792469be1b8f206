"""``ehr``: serve the API, import data, load the demo, report on the audit log."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from ehr.cli import auth_admin
from ehr.cli.audit import app as audit_app
from ehr.cli.keys import DataDirOption, DbOption, VaultAddr, VaultToken
from ehr.cli.keys import app as keys_app
from ehr.cli.mpi import app as mpi_app
from ehr.cli.token import token
from ehr.settings import DEFAULT_DATA_DIR, Settings

app = typer.Typer(help="FHIR R4 records service.", no_args_is_help=True, add_completion=False)
app.add_typer(keys_app, name="keys")
app.add_typer(audit_app, name="audit")
app.add_typer(mpi_app, name="mpi")
app.command("token")(token)
auth_admin.register(app)



@app.command()
def serve(
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8080,
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    workers: Annotated[int, typer.Option(help="worker processes")] = 1,
    max_body: Annotated[int, typer.Option("--max-body", help="largest request body in bytes")] = 64 << 20,
    base_url: Annotated[str | None, typer.Option(help="public base URL of /fhir")] = None,
    inference: Annotated[bool, typer.Option(help="load the AI models ($ai-suggest, /v2, /metrics)")] = True,
    models: Annotated[Path | None, typer.Option(help="model repository folder (default: ./models)")] = None,
    require_gpu: Annotated[bool, typer.Option(help="fail at start unless the CUDA provider works")] = False,
    encryption: Annotated[bool, typer.Option(help="encrypt stored resources, blind-index identifying search "
                                                  "values (for a database's whole life)")] = True,
    vault_addr: VaultAddr = None,
    vault_token: VaultToken = None,
    audit: Annotated[bool, typer.Option(help="record every interaction in the audit log (off: benchmarks "
                                             "only)")] = True,
    mpi: Annotated[bool, typer.Option(help="link Patients across hospitals as they are written")] = True,
    dev: Annotated[bool, typer.Option("--dev", help="development mode: NO authorization, the X-Tenant/X-User/"
                                                    "X-Roles headers are trusted (local exploration only)")] = False,
) -> None:
    """Run the FHIR server. Every request needs a SMART on FHIR access token (``ehr token`` mints one
    locally) unless --dev (or EHR_AUTH=dev) is given."""
    import uvicorn

    from ehr.audit.checkpoints import Signer
    from ehr.cli.reindex import rebuild_outdated_index

    settings = Settings(db_url=db, data_dir=data_dir, max_body_bytes=max_body, base_url=base_url,
                        inference=inference, models_dir=models, require_gpu=require_gpu, encryption=encryption,
                        vault_addr=vault_addr, vault_token=vault_token, audit=audit,
                        mpi=mpi, auth="dev" if dev else os.environ.get("EHR_AUTH") or "smart")
    _announce_auth(settings)
    rebuild_outdated_index(settings)  # migrate, and rebuild an outdated search index, once before workers start
    if audit:
        Signer.from_data_dir(data_dir)  # the audit signing key, generated once before workers start
    if inference:
        _check_models(settings)
    os.environ.update({"EHR_DB": db or "", "EHR_DATA_DIR": str(data_dir), "EHR_MAX_BODY_BYTES": str(max_body),
                       "EHR_BASE_URL": base_url or "", "EHR_INFERENCE": "1" if inference else "0",
                       "EHR_MODELS_DIR": str(models or ""), "EHR_REQUIRE_GPU": "1" if require_gpu else "0",
                       "EHR_ENCRYPTION": "1" if encryption else "0", "EHR_VAULT_ADDR": vault_addr or "",
                       "EHR_VAULT_TOKEN": vault_token or "",
                       "EHR_AUDIT": "1" if audit else "0", "EHR_MPI": "1" if mpi else "0",
                       "EHR_AUTH": settings.auth,
                       # the workers freeze their start-up heap out of full collections (``Settings.gc_freeze``)
                       "EHR_GC_FREEZE": os.environ.get("EHR_GC_FREEZE") or "1"})
    typer.echo(f"FHIR R4 endpoint: http://{host}:{port}/fhir  (database: {_describe(settings)})")
    if workers > 1:
        from ehr.api.workers import serve_workers

        serve_workers("ehr.api.asgi:app", host, port, workers)
    else:
        uvicorn.run("ehr.api.asgi:app", host=host, port=port, log_level="warning", access_log=False)


@app.command("import")
def import_(
    paths: Annotated[list[Path], typer.Argument(help="Bundles, resources, NDJSON files or folders")],
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    tenant: Annotated[str, typer.Option(help="hospital (tenant) the records belong to")] = "default",
    inference: Annotated[bool, typer.Option(help="run the imaging model on DICOM files")] = True,
    vault_addr: VaultAddr = None,
    vault_token: VaultToken = None,
) -> None:
    """Import FHIR Bundles, resources, NDJSON and DICOM files or folders; resumable: what was
    imported before is skipped."""
    from ehr.cli.importer import run_import

    settings = Settings(db_url=db, data_dir=data_dir, inference=inference, vault_addr=vault_addr,
                        vault_token=vault_token)
    code = run_import(settings, paths, tenant)
    raise typer.Exit(code)


@app.command()
def demo(
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    patients: Annotated[int, typer.Option(help="patients per hospital")] = 2,
    vault_addr: VaultAddr = None,
    vault_token: VaultToken = None,
) -> None:
    """Load the demo data set (Synthea-style patients at three hospitals), once."""
    from ehr.cli.demo import load_demo

    load_demo(Settings(db_url=db, data_dir=data_dir, vault_addr=vault_addr, vault_token=vault_token), patients)


@app.command()
def reindex(
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    resource_type: Annotated[str | None, typer.Option("--type", help="only this resource type")] = None,
    batch: Annotated[int, typer.Option(min=1, help="resources per transaction")] = 500,
    vault_addr: VaultAddr = None,
    vault_token: VaultToken = None,
) -> None:
    """Rebuild the search index rows of every current resource (after a registry change); resumable,
    safe while the server runs."""
    from ehr.cli.reindex import run_reindex

    settings = Settings(db_url=db, data_dir=data_dir, vault_addr=vault_addr, vault_token=vault_token)
    try:
        run_reindex(settings, resource_type, batch)
    except ValueError as exc:
        typer.echo(f"ehr reindex: {exc}", err=True)
        raise typer.Exit(2) from None


def _announce_auth(settings: Settings) -> None:
    """Warn loudly in development mode; otherwise make the signing keys once before workers start."""
    if settings.auth == "dev":
        from rich.console import Console

        Console(stderr=True).print(
            "[bold red]WARNING: development mode (--dev / EHR_AUTH=dev): authorization is OFF.[/] Anyone who "
            "can reach this port can read and change every hospital's records by sending X-Tenant/X-User/"
            "X-Roles headers. Use it only on your own machine; serve without --dev to require tokens.")
        return
    if settings.auth != "smart":
        raise typer.BadParameter(f"EHR_AUTH={settings.auth!r} is not a mode; use smart (default) or dev")
    if not settings.auth_jwks_url:
        from ehr.auth.signing import SigningKeys

        SigningKeys.load_or_create(settings.keys_dir)


def _check_models(settings: Settings) -> None:
    """Load every model once before the workers start, so a bad repository or --require-gpu without a
    working GPU stops the server at start with one clear line (exit code 2)."""
    from inference.repository import ModelRepositoryError
    from inference.runtime import GpuUnavailableError
    from inference.service import InferenceService

    try:
        InferenceService.start(settings.model_repository, require_gpu=settings.require_gpu).close()
    except (ModelRepositoryError, GpuUnavailableError) as exc:
        typer.echo(f"ehr serve: {exc}", err=True)
        raise typer.Exit(2) from None


def _describe(settings: Settings) -> str:
    url = settings.database_url
    return url.split("@")[-1] if "@" in url else url


if __name__ == "__main__":
    app()
