"""``ehr clients``, ``ehr users`` and ``ehr launch``: the administrator's side of the built-in
authorization server (``ehr.auth.server``).

- ``ehr clients register --tenant T --name N (--jwks FILE | --jwks-url URL | --public) [--redirect-uri U]...
  --scope "system/*.rs ..."`` prints the new ``client_id``; ``ehr clients list``; ``ehr clients disable ID``.
- ``ehr users add --tenant T --username U --roles a,b [--fhir-user Practitioner/1]``: the password is
  asked at a prompt (or read from standard input with ``--password-stdin``), never taken as an argument.
- ``ehr launch --tenant T --patient P [--encounter E] [--client C]`` prints an EHR launch id (valid one
  hour): launch the app with ``?iss=<FHIR base>&launch=<id>``.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Any, TypeVar

import orjson
import typer
from sqlalchemy import Connection
from sqlalchemy.exc import IntegrityError

from ehr.cli.keys import DataDirOption, DbOption
from ehr.settings import DEFAULT_DATA_DIR, Settings

clients_app = typer.Typer(help="OAuth clients (apps) of the built-in authorization server.", no_args_is_help=True,
                          add_completion=False)
users_app = typer.Typer(help="Users who sign in at the built-in authorization server.", no_args_is_help=True,
                        add_completion=False)
T = TypeVar("T")
Tenant = Annotated[str, typer.Option("--tenant", help="the hospital (tenant) it belongs to")]


def register(app: typer.Typer) -> None:
    """Add ``clients``, ``users`` and ``launch`` to the ``ehr`` command."""
    app.add_typer(clients_app, name="clients")
    app.add_typer(users_app, name="users")
    app.command("launch")(launch)


@contextmanager
def _connection(db: str | None, data_dir: Path) -> Iterator[Connection]:
    from ehr.api.app import open_store
    from ehr.auth.server.registry import connection

    store = open_store(Settings(db_url=db, data_dir=data_dir))
    try:
        with store.unit_of_work(write=True) as tx:
            yield connection(tx)
    finally:
        store.close()


def _run(db: str | None, data_dir: Path, fn: Callable[[Connection], T]) -> T:
    try:
        with _connection(db, data_dir) as conn:
            return fn(conn)
    except (ValueError, IntegrityError) as exc:
        message = "that name is taken; choose another" if isinstance(exc, IntegrityError) else str(exc)
        typer.echo(f"ehr: {message}", err=True)
        raise typer.Exit(2) from None


@clients_app.command("register")
def register_client(
    tenant: Tenant,
    name: Annotated[str, typer.Option("--name", help="the app's name, shown at sign-in")],
    scope: Annotated[str, typer.Option("--scope", help='the most it may get, e.g. "system/*.rs"')],
    jwks: Annotated[Path | None, typer.Option("--jwks", help="its public JWK Set (JSON file)")] = None,
    jwks_url: Annotated[str | None, typer.Option("--jwks-url", help="where it publishes its JWK Set")] = None,
    public: Annotated[bool, typer.Option("--public", help="a public app (PKCE, no key)")] = False,
    redirect_uri: Annotated[list[str] | None, typer.Option("--redirect-uri", help="exact redirect URI")] = None,
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Register an app; prints its client_id."""
    from ehr.auth.server.registry import register_client as register_one

    if public == (jwks is not None or jwks_url is not None):
        typer.echo("ehr clients register: give --public, or one of --jwks FILE / --jwks-url URL", err=True)
        raise typer.Exit(2)
    key_set: dict[str, Any] | None = _read_jwks(jwks) if jwks is not None else None
    client = _run(db, data_dir, lambda conn: register_one(
        conn, tenant=tenant, name=name, kind="public" if public else "confidential", scopes=tuple(scope.split()),
        redirect_uris=tuple(redirect_uri or ()), jwks=key_set, jwks_uri=jwks_url))
    typer.echo(client.client_id)


def _read_jwks(path: Path) -> dict[str, Any]:
    from joserfc.errors import JoseError
    from joserfc.jwk import KeySet

    try:
        value = orjson.loads(path.read_bytes())
        if any("d" in key for key in value.get("keys", [])):
            raise ValueError("it holds a private key: register only the public half")
        KeySet.import_key_set(value)
    except (OSError, ValueError, JoseError, AttributeError) as exc:
        typer.echo(f"ehr clients register: {path} is not a public JWK Set ({exc})", err=True)
        raise typer.Exit(2) from None
    return dict(value)


@clients_app.command("list")
def list_clients(db: DbOption = None, data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    """Every registered client: id, hospital, kind, state, name, allowed scopes."""
    from ehr.auth.server.registry import list_clients as list_all

    for c in _run(db, data_dir, list_all):
        state = "disabled" if c.disabled else "enabled"
        typer.echo(f"{c.client_id}\t{c.tenant}\t{c.kind}\t{state}\t{c.name}\t{' '.join(c.scopes)}")


@clients_app.command("disable")
def disable_client(client_id: Annotated[str, typer.Argument(help="the client_id")], db: DbOption = None,
                   data_dir: DataDirOption = DEFAULT_DATA_DIR) -> None:
    """Disable a client: no new tokens, its tokens no longer active."""
    from ehr.auth.server.registry import disable_client as disable_one

    if not _run(db, data_dir, lambda conn: disable_one(conn, client_id)):
        typer.echo(f"ehr clients disable: no client {client_id}; see `ehr clients list`", err=True)
        raise typer.Exit(1)
    typer.echo(f"disabled {client_id}")


@users_app.command("add")
def add_user(
    tenant: Tenant,
    username: Annotated[str, typer.Option("--username", help="the sign-in name")],
    roles: Annotated[str, typer.Option("--roles", help="comma-separated roles, e.g. clinician,data-officer")] = "",
    fhir_user: Annotated[str | None, typer.Option("--fhir-user", help="e.g. Practitioner/123")] = None,
    password_stdin: Annotated[bool, typer.Option("--password-stdin", help="read the password from stdin")] = False,
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Add a user; the password is asked for (never an argument)."""
    from ehr.auth.server.registry import add_user as add_one

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    role_list = tuple(r.strip() for r in roles.split(",") if r.strip())
    _run(db, data_dir, lambda conn: add_one(conn, username=username, tenant=tenant, password=password,
                                            roles=role_list, fhir_user=fhir_user))
    typer.echo(f"added {username} ({tenant})")


def launch(
    tenant: Tenant,
    patient: Annotated[str, typer.Option("--patient", help="the Patient id in context")],
    encounter: Annotated[str | None, typer.Option("--encounter", help="the Encounter id in context")] = None,
    client: Annotated[str | None, typer.Option("--client", help="only this client_id may use it")] = None,
    db: DbOption = None,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
) -> None:
    """Create an EHR launch id (one hour): launch the app with ?iss=<FHIR base>&launch=<id>."""
    from ehr.auth.server.launches import create_launch

    typer.echo(_run(db, data_dir, lambda conn: create_launch(conn, tenant, patient.removeprefix("Patient/"),
                                                             encounter, client)))
