"""``ehr keys``: rotate the key-encryption keys, retire old ones, shred a patient's data key."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import Annotated

import typer

from ehr.settings import DEFAULT_DATA_DIR, Settings

app = typer.Typer(help="Key management: KEK rotation and crypto-shredding.", no_args_is_help=True,
                  add_completion=False)

DbOption = Annotated[str | None, typer.Option("--db", help="SQLAlchemy URL; default: SQLite in --data-dir")]
DataDirOption = Annotated[Path, typer.Option("--data-dir", help="folder of the database and of keys/")]
VaultAddr = Annotated[str | None, typer.Option("--vault-addr", envvar="EHR_VAULT_ADDR",
                                               help="Vault address (transit engine); default: local key files")]
VaultToken = Annotated[str | None, typer.Option("--vault-token", envvar="EHR_VAULT_TOKEN", show_default=False,
                                                help="Vault token (better given as EHR_VAULT_TOKEN)")]
TenantOption = Annotated[str | None, typer.Option("--tenant", help="hospital (tenant); default: every tenant")]


def _settings(db: str | None, data_dir: Path, vault_addr: str | None, vault_token: str | None) -> Settings:
    return Settings(db_url=db, data_dir=data_dir, vault_addr=vault_addr, vault_token=vault_token)


@app.command()
def rotate(
    tenant: TenantOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    vault_addr: VaultAddr = None,
    vault_token: VaultToken = None,
    batch: Annotated[int, typer.Option(help="data keys re-wrapped per transaction")] = 200,
) -> None:
    """New KEK version; re-wrap every data key online (old ciphertexts stay readable)."""
    from ehr.api.app import open_store
    from ehr.crypto.maintenance import rotate_all
    from ehr.crypto.setup import open_kek_source

    settings = _settings(db, data_dir, vault_addr, vault_token)
    store = open_store(settings)
    try:
        for done in rotate_all(store, open_kek_source(settings), tenant, batch):
            typer.echo(f"tenant {done.tenant}: KEK version {done.version}, {done.rewrapped} data keys re-wrapped")
    finally:
        store.close()


@app.command()
def retire(
    tenant: TenantOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    vault_addr: VaultAddr = None,
    vault_token: VaultToken = None,
) -> None:
    """Destroy the KEK versions older than the newest, after `ehr keys rotate` re-wrapped every data key
    (refused while any data key still needs an old version). Restart the servers afterwards: a running
    server may hold an old version in memory."""
    from ehr.api.app import open_store
    from ehr.crypto.maintenance import StillWrapped, retire_tenant, tenants_or
    from ehr.crypto.setup import open_kek_source

    settings = _settings(db, data_dir, vault_addr, vault_token)
    store = open_store(settings)
    source = open_kek_source(settings)
    try:
        for name in tenants_or(store, tenant):
            gone = retire_tenant(store, source, name)
            shown = ", ".join(map(str, gone)) or "none (nothing older than the newest)"
            typer.echo(f"tenant {name}: KEK versions destroyed: {shown}")
    except StillWrapped as exc:
        typer.echo(str(exc), err=True)
        raise typer.Exit(1) from None
    finally:
        store.close()


@app.command()
def shred(
    patient: Annotated[str, typer.Option("--patient", help="the Patient id whose records are destroyed")],
    tenant: TenantOption = None,
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    vault_addr: VaultAddr = None,
    vault_token: VaultToken = None,
) -> None:
    """Destroy a patient's data key: all their current and historic versions become unreadable."""
    from ehr.api.app import close_services, open_services
    from ehr.crypto.maintenance import shred_patient
    from ehr.store.sql.store import SqlStore

    services = open_services(_settings(db, data_dir, vault_addr, vault_token))
    try:
        assert isinstance(services.store, SqlStore)
        erased = shred_patient(services, services.store, patient, tenant, f"cli:{getpass.getuser()}")
    finally:
        close_services(services)
    if not erased:
        typer.echo(f"Patient/{patient} has no data key{f' at {tenant}' if tenant else ''}; nothing was erased.",
                   err=True)
        raise typer.Exit(1)
    typer.echo(f"Patient/{patient}: data key destroyed at {', '.join(erased)}; their records are erased.")
