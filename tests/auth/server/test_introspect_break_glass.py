"""Token introspection (RFC 7662) and break-glass tokens over HTTP."""

from __future__ import annotations

import time

import httpx

from ehr.api.app import open_audit_log, open_store
from ehr.audit.query import AuditQuery
from tests.auth.server.support import AuthServer, claims_of, code_of, login, pkce


def _backend_token(auth: AuthServer, client_id: str) -> str:
    form = {"grant_type": "client_credentials", "scope": "system/*.rs", **auth.client_auth(client_id)}
    return str(httpx.post(auth.token_url, data=form).json()["access_token"])


def _user_token(auth: AuthServer) -> str:
    client_id = auth.public_client()
    verifier, challenge = pkce()
    with httpx.Client() as http:
        code = code_of(login(http, auth, client_id, "user/*.rs", challenge))
        body = http.post(auth.token_url, data={"grant_type": "authorization_code", "code": code,
                                               "client_id": client_id, "redirect_uri": "http://app.example/callback",
                                               "code_verifier": verifier}).json()
    return str(body["access_token"])


def _introspect(auth: AuthServer, caller: str, token: str) -> httpx.Response:
    return httpx.post(f"{auth.origin}/auth/introspect", data={"token": token, **auth.client_auth(caller)})


def test_introspection_active_and_inactive(auth: AuthServer) -> None:
    caller = auth.backend_client(tenant="h1")
    token = _backend_token(auth, auth.backend_client(tenant="h1"))
    active = _introspect(auth, caller, token).json()
    assert active["active"] is True
    assert (active["tenant"], active["scope"]) == ("h1", "system/*.rs")
    assert active["exp"] > time.time()
    assert _introspect(auth, caller, token[:-4] + "AAAA").json() == {"active": False}  # forged signature
    assert _introspect(auth, caller, "not-a-token").json() == {"active": False}
    other_hospital = auth.backend_client(tenant="h2")
    assert _introspect(auth, other_hospital, token).json() == {"active": False}
    anonymous = httpx.post(f"{auth.origin}/auth/introspect", data={"token": token})
    assert (anonymous.status_code, anonymous.json()["error"]) == (401, "invalid_client")


def test_break_glass_token_is_flagged_limited_and_audited(auth: AuthServer) -> None:
    user_token = _user_token(auth)
    url = f"{auth.origin}/auth/break-glass"
    headers = {"Authorization": f"Bearer {user_token}"}
    refused = httpx.post(url, headers=headers, data={"reason": "because I say so"})
    assert (refused.status_code, refused.json()["error"]) == (400, "invalid_request")
    assert httpx.post(url, data={"reason": "ETREAT"}).status_code == 401
    response = httpx.post(url, headers=headers, data={"reason": "ETREAT", "patient": "pat-9"})
    assert response.status_code == 200, response.text
    claims = claims_of(auth, response.json()["access_token"])
    assert claims["break_glass"]["reason"] == "ETREAT"
    assert claims["purpose_of_use"] == "ETREAT"
    assert claims["patient"] == "pat-9"
    assert claims["exp"] - claims["iat"] <= auth.settings.break_glass_lifetime_s
    assert claims["break_glass"]["exp"] == claims["exp"]
    assert (claims["sub"], claims["tenant"]) == ("alice", "h1")
    store = open_store(auth.settings)
    try:
        log = open_audit_log(store, auth.settings)
        entries = [body for _, body in log.search(AuditQuery(tenant="h1", patients=("Patient/pat-9",)))]
        log.close()
    finally:
        store.close()
    assert len(entries) == 1
    assert b"break-glass" in entries[0]
    assert b"\"BTG\"" in entries[0]  # flagged: v3 ActReason break-the-glass


def test_backend_tokens_cannot_break_the_glass(auth: AuthServer) -> None:
    token = _backend_token(auth, auth.backend_client())
    response = httpx.post(f"{auth.origin}/auth/break-glass", headers={"Authorization": f"Bearer {token}"},
                          data={"reason": "BTG"})
    assert (response.status_code, response.json()["error"]) == (403, "access_denied")
