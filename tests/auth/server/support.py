"""A live server with the built-in authorization server, clients and users registered straight in its
database, and client keys generated with joserfc for private_key_jwt assertions."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
from joserfc import jwt
from joserfc.jwk import ECKey, KeySet, RSAKey

from ehr.api.app import open_store
from ehr.auth.server.registry import add_user, connection, register_client
from ehr.auth.signing import SigningKeys
from ehr.settings import Settings
from tests.conftest import LiveServer

REDIRECT = "http://app.example/callback"
PASSWORD = "correct horse battery"


@dataclass
class AuthServer:
    live: LiveServer
    settings: Settings
    keys: dict[str, ECKey | RSAKey] = field(default_factory=dict)

    @property
    def origin(self) -> str:
        return self.live.base.removesuffix("/fhir")

    @property
    def token_url(self) -> str:
        return f"{self.origin}/auth/token"

    def backend_client(self, alg: str = "ES384", tenant: str = "h1", scopes: str = "system/*.cruds") -> str:
        """A confidential client with a fresh key of ``alg``; its private key is kept in ``keys``."""
        key: ECKey | RSAKey = (ECKey.generate_key("P-384", auto_kid=True) if alg == "ES384"
                               else RSAKey.generate_key(2048, auto_kid=True))
        public = KeySet([key]).as_dict(private=False)
        client_id = self._register(tenant=tenant, name=f"backend {alg}", kind="confidential",
                                   scopes=tuple(scopes.split()), redirect_uris=(REDIRECT,), jwks=dict(public))
        self.keys[client_id] = key
        return client_id

    def public_client(self, tenant: str = "h1",
                      scopes: str = "launch launch/patient patient/*.rs user/*.rs offline_access openid fhirUser",
                      redirect: str = REDIRECT) -> str:
        return self._register(tenant=tenant, name="public app", kind="public", scopes=tuple(scopes.split()),
                              redirect_uris=(redirect,))

    def _register(self, **values: Any) -> str:
        store = open_store(self.settings)
        try:
            with store.unit_of_work(write=True) as tx:
                return register_client(connection(tx), **values).client_id
        finally:
            store.close()

    def user(self, username: str = "alice", tenant: str = "h1", roles: tuple[str, ...] = ("clinician",)) -> str:
        store = open_store(self.settings)
        try:
            with store.unit_of_work(write=True) as tx:
                add_user(connection(tx), username=username, tenant=tenant, password=PASSWORD, roles=roles,
                         fhir_user="Practitioner/p-1")
        finally:
            store.close()
        return username

    def assertion(self, client_id: str, **overrides: Any) -> str:
        key = self.keys[client_id]
        alg = "ES384" if isinstance(key, ECKey) else "RS384"
        now = int(time.time())
        claims = {"iss": client_id, "sub": client_id, "aud": self.token_url, "exp": now + 240,
                  "jti": secrets.token_hex(8), **overrides}
        claims = {name: value for name, value in claims.items() if value is not None}  # None: left out
        return jwt.encode({"alg": alg, "kid": key.kid, "typ": "JWT"}, claims, key, algorithms=[alg])

    def client_auth(self, client_id: str, **overrides: Any) -> dict[str, str]:
        return {"client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
                "client_assertion": self.assertion(client_id, **overrides)}


def start(db_url: str, tmp_path: Path) -> tuple[AuthServer, LiveServer]:
    settings = Settings(db_url=db_url, data_dir=tmp_path, mpi=False)
    open_store(settings).close()  # migrate before the test registers clients
    live = LiveServer(settings)
    return AuthServer(live, settings), live


def pkce() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


def login(http: httpx.Client, auth: AuthServer, client_id: str, scope: str, challenge: str,
          *, patient: str | None = None, launch: str | None = None, password: str = PASSWORD,
          redirect: str = REDIRECT) -> httpx.Response:
    """GET the form, then POST it; the response is the redirect (303) or the form again."""
    params = {"response_type": "code", "client_id": client_id, "redirect_uri": redirect, "scope": scope,
              "state": "st-1", "aud": auth.live.base, "code_challenge": challenge, "code_challenge_method": "S256"}
    if launch is not None:
        params["launch"] = launch
    page = http.get(f"{auth.origin}/auth/authorize", params=params)
    assert page.status_code == 200, page.text
    form = {**params, "username": "alice", "password": password}
    if patient is not None:
        form["patient"] = patient
    return http.post(f"{auth.origin}/auth/authorize", data=form)


def code_of(response: httpx.Response) -> str:
    assert response.status_code == 303, response.text
    query = parse_qs(urlsplit(response.headers["location"]).query)
    assert query["state"] == ["st-1"]
    return query["code"][0]


def claims_of(auth: AuthServer, token: str) -> dict[str, Any]:
    """The claims of a token the server issued, its signature checked with the service's keys."""
    keys = SigningKeys.load_or_create(auth.settings.keys_dir)
    return dict(jwt.decode(token, keys.keys, algorithms=["ES384"]).claims)


def create_patient(auth: AuthServer, tenant: str = "h1") -> str:
    """A Patient of ``tenant``, written over the FHIR API with a backend-services token of that hospital
    (the development headers say the same, for a server in --dev mode)."""
    client_id = auth.backend_client(tenant=tenant, scopes="system/*.cruds")
    form = {"grant_type": "client_credentials", "scope": "system/Patient.cruds", **auth.client_auth(client_id)}
    token = httpx.post(auth.token_url, data=form).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}", "X-Tenant": tenant, "Content-Type": "application/fhir+json"}
    response = httpx.post(f"{auth.live.base}/Patient", headers=headers,
                          json={"resourceType": "Patient", "name": [{"family": "Doe"}]})
    assert response.status_code == 201, response.text
    return str(response.json()["id"])
