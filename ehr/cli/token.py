"""``ehr token``: mint an access token from the local development keys (``<data-dir>/keys``), for curl,
scripts and tests against a server started from the same data folder. Prints only the token, so
``TOKEN=$(ehr token --client cli --scope 'user/*.rs')`` works.

The claims are those a SMART authorization server issues (SMART App Launch 2.x §Access token
response, and the ``tenant``/``roles`` claims this service needs; README "Authorization").
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

import typer

from ehr.auth.signing import SigningKeys
from ehr.auth.tokens import ScopeError, parse_scopes
from ehr.cli.keys import DataDirOption
from ehr.settings import DEFAULT_DATA_DIR, Settings

DEFAULT_BASE = "http://127.0.0.1:8080/fhir"


def token(
    client: Annotated[str, typer.Option("--client", help="client_id the token is issued to")],
    scope: Annotated[str, typer.Option("--scope", help="space-separated SMART scopes, e.g. 'user/*.rs'")],
    patient: Annotated[str | None, typer.Option(help="launch patient (id) for patient/ scopes")] = None,
    encounter: Annotated[str | None, typer.Option(help="launch encounter (id)")] = None,
    tenant: Annotated[str, typer.Option(help="hospital (tenant) of the caller")] = "default",
    user: Annotated[str | None, typer.Option(help="subject (sub); default: the client")] = None,
    roles: Annotated[str, typer.Option(help="roles, comma separated (e.g. clinician,data-officer)")] = "",
    purpose: Annotated[str | None, typer.Option(help="purpose of use (v3 ActReason code, e.g. TREAT)")] = None,
    lifetime: Annotated[int, typer.Option(min=1, help="seconds the token is valid")] = 3600,
    data_dir: DataDirOption = DEFAULT_DATA_DIR,
    base_url: Annotated[str | None, typer.Option(help="the server's FHIR base URL (default: EHR_BASE_URL, "
                                                      f"else {DEFAULT_BASE})")] = None,
    issuer: Annotated[str | None, typer.Option(help="iss; default: <origin of base URL>/auth")] = None,
    audience: Annotated[str | None, typer.Option(help="aud; default: the FHIR base URL")] = None,
) -> None:
    """Mint an access token from the local development keys and print it."""
    try:
        parse_scopes(scope)
    except ScopeError as exc:
        raise typer.BadParameter(str(exc), param_hint="--scope") from None
    settings = Settings.from_env()
    base = (base_url or settings.base_url or DEFAULT_BASE).rstrip("/")
    parts = urlsplit(base)
    claims: dict[str, Any] = {
        "iss": issuer or settings.auth_issuer or f"{parts.scheme}://{parts.netloc}/auth",
        "aud": audience or settings.auth_audience or base,
        "sub": user or client, "client_id": client, "tenant": tenant, "scope": scope,
        "roles": [r.strip() for r in roles.split(",") if r.strip()],
    }
    optional = {"patient": patient, "encounter": encounter, "purpose_of_use": purpose}
    claims.update({k: v for k, v in optional.items() if v})
    keys = SigningKeys.load_or_create(_keys_dir(data_dir))
    typer.echo(keys.mint(claims, lifetime_s=lifetime))


def _keys_dir(data_dir: Path) -> Path:
    """``--data-dir``, or EHR_DATA_DIR when the option was left at its default."""
    if data_dir == DEFAULT_DATA_DIR and os.environ.get("EHR_DATA_DIR"):
        return Settings.from_env().keys_dir
    return Settings(data_dir=data_dir).keys_dir
