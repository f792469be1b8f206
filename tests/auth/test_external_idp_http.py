"""A hospital's own identity provider replaces the built-in server by configuration: tokens signed with
the provider's keys (fetched from its JWKS URL) are accepted, tokens of the service's own keys refused."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest

from ehr.auth.signing import SigningKeys
from ehr.settings import Settings
from tests.conftest import LiveServer

ISSUER, AUDIENCE = "https://idp.hospital.test/realms/ehr", "https://ehr.hospital.test/fhir"
JSON = {"Accept": "application/fhir+json"}


class FakeIdp:
    """A tiny HTTP server publishing a JWK Set at ``/jwks``."""

    def __init__(self, keys: SigningKeys) -> None:
        body = orjson.dumps(keys.public_jwks())

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200 if self.path == "/jwks" else 404)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(body if self.path == "/jwks" else b"{}")

            def log_message(self, *_args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/jwks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> FakeIdp:
        self.thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def idp_keys() -> SigningKeys:
    return SigningKeys.generate()


@pytest.fixture
def with_idp(db_url: str, tmp_path: Path, idp_keys: SigningKeys) -> Iterator[LiveServer]:
    with FakeIdp(idp_keys) as idp:
        settings = Settings(db_url=db_url, data_dir=tmp_path, mpi=False, auth_issuer=ISSUER,
                            auth_audience=AUDIENCE, auth_jwks_url=idp.url,
                            auth_authorize_url=f"{ISSUER}/protocol/openid-connect/auth",
                            auth_token_url=f"{ISSUER}/protocol/openid-connect/token")
        with LiveServer(settings) as live:
            yield live


def test_the_providers_tokens_are_accepted_and_ours_refused(with_idp: LiveServer, idp_keys: SigningKeys,
                                                           tmp_path: Path) -> None:
    claims = {"iss": ISSUER, "aud": [AUDIENCE, "account"], "sub": "f3a1-uuid", "azp": "ward-app",
              "tenant": "hospital-a", "scope": "openid user/Patient.rs"}
    ours = SigningKeys.load_or_create(tmp_path / "own-keys").mint(claims)
    with httpx.Client(base_url=with_idp.base, headers=JSON, timeout=30) as http:
        accepted = http.get("/Patient", headers={"Authorization": f"Bearer {idp_keys.mint(claims)}"})
        refused = http.get("/Patient", headers={"Authorization": f"Bearer {ours}"})
        config = http.get("/.well-known/smart-configuration").json()
        jwks = http.get(f"http://127.0.0.1:{with_idp.port}/auth/jwks")
        built_in = http.post(f"http://127.0.0.1:{with_idp.port}/auth/token",
                             data={"grant_type": "client_credentials"})
    assert accepted.status_code == 200, accepted.text
    assert refused.status_code == 401
    assert config["issuer"] == ISSUER
    assert config["token_endpoint"] == f"{ISSUER}/protocol/openid-connect/token"
    assert "introspection_endpoint" not in config
    assert jwks.status_code == 404
    assert built_in.status_code == 404  # the built-in server is off: its tokens would not validate here
    assert ISSUER in built_in.text
