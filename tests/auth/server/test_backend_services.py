"""SMART Backend Services over HTTP: client_credentials with a private_key_jwt assertion (ES384 and
RS384), and the assertions that must be refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.auth.server.support import AuthServer, claims_of, start


@pytest.fixture
def auth(db_url: str, tmp_path: Path) -> Iterator[AuthServer]:
    server, live = start(db_url, tmp_path)
    with live:
        yield server


def _token(auth: AuthServer, client_id: str, scope: str = "system/Patient.rs", **overrides: Any) -> httpx.Response:
    form = {"grant_type": "client_credentials", "scope": scope, **auth.client_auth(client_id, **overrides)}
    return httpx.post(auth.token_url, data=form)


@pytest.mark.parametrize("alg", ["ES384", "RS384"])
def test_backend_client_gets_a_system_token(auth: AuthServer, alg: str) -> None:
    client_id = auth.backend_client(alg, tenant="h1", scopes="system/*.rs")
    response = _token(auth, client_id, scope="system/Patient.rs system/Observation.write user/*.rs")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["scope"] == "system/Patient.rs"  # write and user/ are not within the client's allowance
    assert response.headers["cache-control"] == "no-store"
    claims = claims_of(auth, body["access_token"])
    assert claims["iss"] == f"{auth.origin}/auth"
    assert claims["aud"] == auth.live.base
    assert (claims["sub"], claims["client_id"], claims["tenant"]) == (client_id, client_id, "h1")
    assert "roles" not in claims
    assert claims["exp"] - claims["iat"] == auth.settings.access_token_lifetime_s


def test_replayed_assertion_is_refused(auth: AuthServer) -> None:
    client_id = auth.backend_client()
    form = {"grant_type": "client_credentials", "scope": "system/*.rs", **auth.client_auth(client_id)}
    assert httpx.post(auth.token_url, data=form).status_code == 200
    again = httpx.post(auth.token_url, data=form)
    assert again.status_code == 401
    assert again.json()["error"] == "invalid_client"
    assert "already used" in again.json()["error_description"]


@pytest.mark.parametrize("overrides", [
    {"aud": "http://elsewhere.example/auth/token"},
    {"iss": "someone-else"},
    {"exp": 10},
    {"exp": 2_000_000_000},  # more than 5 minutes ahead
    {"jti": None},
], ids=["wrong-aud", "wrong-iss", "expired", "too-long", "no-jti"])
def test_bad_assertions_are_refused(auth: AuthServer, overrides: dict[str, Any]) -> None:
    response = _token(auth, auth.backend_client(), **overrides)
    assert response.status_code == 401, response.text
    assert response.json()["error"] == "invalid_client"


def test_unknown_client_and_foreign_key_are_refused(auth: AuthServer) -> None:
    known = auth.backend_client()
    other = auth.backend_client()
    auth.keys["ghost"] = auth.keys[known]
    assert _token(auth, "ghost").json()["error"] == "invalid_client"
    auth.keys[other] = auth.keys[known]  # signed by another client's key
    response = _token(auth, other)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_scopes_outside_the_allowance_and_unknown_grants(auth: AuthServer) -> None:
    client_id = auth.backend_client(scopes="system/Observation.rs")
    response = _token(auth, client_id, scope="system/Patient.rs")
    assert (response.status_code, response.json()["error"]) == (400, "invalid_scope")
    response = httpx.post(auth.token_url, data={"grant_type": "password"})
    assert (response.status_code, response.json()["error"]) == (400, "unsupported_grant_type")
    response = httpx.post(auth.token_url, json={"grant_type": "client_credentials"})
    assert (response.status_code, response.json()["error"]) == (400, "invalid_request")
