"""Secure by default over HTTP (RFC 6750 §3, SMART App Launch 2.x): a real server, on SQLite and
PostgreSQL, refuses every bad token with a 401 OperationOutcome and a WWW-Authenticate challenge, audits
the refusal, and serves data to a valid token; discovery stays open."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from joserfc import jwt
from typer.testing import CliRunner

from ehr.auth.signing import SigningKeys
from ehr.cli.main import app as cli
from ehr.settings import Settings
from tests.conftest import LiveServer

JSON = {"Accept": "application/fhir+json", "Content-Type": "application/fhir+json"}


@pytest.fixture
def smart(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    with LiveServer(Settings(db_url=db_url, data_dir=tmp_path, mpi=False)) as live:
        yield live


def claims(live: LiveServer, **extra: Any) -> dict[str, Any]:
    return {"iss": f"http://127.0.0.1:{live.port}/auth", "aud": live.base, "sub": "dr-who", "client_id": "app",
            "tenant": "default", "scope": "openid user/*.cruds", **extra}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _resigned(token: str, header: dict[str, Any], secret: bytes | None) -> str:
    head, payload = _b64(orjson.dumps(header)), token.split(".")[1]
    if secret is None:
        return f"{head}.{payload}."
    return f"{head}.{payload}.{_b64(hmac.new(secret, f'{head}.{payload}'.encode(), hashlib.sha256).digest())}"


def bad_tokens(live: LiveServer, keys: SigningKeys) -> dict[str, str]:
    now, other, good = int(time.time()), SigningKeys.generate(), keys.mint(claims(live))
    return {
        "forged": jwt.encode({"alg": "ES384", "kid": keys.current.kid}, claims(live, exp=now + 60), other.current,
                             algorithms=["ES384"]),
        "expired": keys.mint(claims(live, exp=now - 120)),
        "not-yet-valid": keys.mint(claims(live, nbf=now + 600)),
        "wrong-audience": keys.mint(claims(live, aud="http://elsewhere/fhir")),
        "wrong-issuer": keys.mint(claims(live, iss="http://elsewhere/auth")),
        "alg-none": _resigned(good, {"alg": "none", "typ": "JWT"}, None),
        "hs256-public-key": _resigned(good, {"alg": "HS256", "kid": keys.current.kid},
                                      orjson.dumps(keys.public_jwks())),
        "missing-tenant": keys.mint({k: v for k, v in claims(live).items() if k != "tenant"}),
        "unknown-kid": other.mint(claims(live)),
        "malformed-scope": keys.mint(claims(live, scope="user/Patient.sr")),
    }


def test_every_bad_token_is_refused_with_a_challenge(smart: LiveServer, tmp_path: Path) -> None:
    keys = SigningKeys.load_or_create(tmp_path / "keys")
    with httpx.Client(base_url=smart.base, headers=JSON, timeout=30) as http:
        missing = http.get("/Patient")
        assert missing.status_code == 401
        assert missing.headers["www-authenticate"] == 'Bearer realm="ehr"'
        assert missing.json()["issue"][0]["code"] == "login"
        for case, token in bad_tokens(smart, keys).items():
            response = http.get("/Patient", headers={"Authorization": f"Bearer {token}"})
            assert response.status_code == 401, case
            assert 'error="invalid_token"' in response.headers["www-authenticate"], case
            assert response.json()["resourceType"] == "OperationOutcome", case
        dev_headers = http.get("/Patient", headers={"X-Tenant": "default", "X-Roles": "data-officer"})
        assert dev_headers.status_code == 401


def test_a_valid_token_writes_and_reads(smart: LiveServer, tmp_path: Path) -> None:
    token = SigningKeys.load_or_create(tmp_path / "keys").mint(claims(smart))
    auth = {**JSON, "Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=smart.base, headers=auth, timeout=30) as http:
        created = http.post("/Patient", json={"resourceType": "Patient", "active": True})
        assert created.status_code == 201, created.text
        read = http.get(f"/Patient/{created.json()['id']}")
        assert read.status_code == 200
        assert read.json()["active"] is True


def test_refusals_are_audited(smart: LiveServer, tmp_path: Path) -> None:
    keys = SigningKeys.load_or_create(tmp_path / "keys")
    officer = keys.mint(claims(smart, roles=["data-officer"]))
    with httpx.Client(base_url=smart.base, headers=JSON, timeout=30) as http:
        assert http.get("/Observation", headers={"Authorization": "Bearer not-a-token"}).status_code == 401
        events = http.get("/AuditEvent", headers={"Authorization": f"Bearer {officer}"})
    assert events.status_code == 200, events.text
    refused = [e["resource"] for e in events.json().get("entry", [])
               if e["resource"].get("outcomeDesc") == "HTTP 401"]
    assert refused
    assert "not-a-token" not in orjson.dumps(refused).decode()


def test_discovery_is_open(smart: LiveServer) -> None:
    origin = f"http://127.0.0.1:{smart.port}"
    with httpx.Client(timeout=30) as http:
        metadata = http.get(f"{smart.base}/metadata", headers=JSON)
        config = http.get(f"{smart.base}/.well-known/smart-configuration").json()
        assert http.get(f"{origin}/.well-known/smart-configuration").json() == config
        jwks = http.get(f"{origin}/auth/jwks").json()
    assert metadata.status_code == 200
    security = metadata.json()["rest"][0]["security"]
    assert security["service"][0]["coding"][0]["code"] == "SMART-on-FHIR"
    uris = {u["url"]: u["valueUri"] for u in security["extension"][0]["extension"]}
    assert uris["token"] == f"{origin}/auth/token"
    assert config["issuer"] == f"{origin}/auth"
    assert config["jwks_uri"] == f"{origin}/auth/jwks"
    assert config["authorization_endpoint"] == f"{origin}/auth/authorize"
    assert config["introspection_endpoint"] == f"{origin}/auth/introspect"
    assert config["code_challenge_methods_supported"] == ["S256"]
    assert "private_key_jwt" in config["token_endpoint_auth_methods_supported"]
    assert {"permission-v2", "launch-ehr", "client-confidential-asymmetric"} <= set(config["capabilities"])
    assert all("d" not in key for key in jwks["keys"])  # public halves only


def test_ehr_token_round_trip(smart: LiveServer, tmp_path: Path) -> None:
    minted = CliRunner().invoke(cli, ["token", "--client", "cli", "--scope", "user/Patient.cruds",
                                      "--data-dir", str(tmp_path), "--base-url", smart.base,
                                      "--roles", "clinician"])
    assert minted.exit_code == 0, minted.output
    token = minted.output.strip()
    assert token.count(".") == 2
    with httpx.Client(base_url=smart.base, headers={**JSON, "Authorization": f"Bearer {token}"}) as http:
        assert http.get("/Patient").status_code == 200


def test_ehr_token_refuses_malformed_scopes(tmp_path: Path) -> None:
    minted = CliRunner().invoke(cli, ["token", "--client", "cli", "--scope", "user/Patient.sr",
                                      "--data-dir", str(tmp_path)])
    assert minted.exit_code != 0
