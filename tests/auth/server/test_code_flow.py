"""Authorization code with PKCE over HTTP (standalone and EHR launch), and refresh token rotation."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from ehr.api.app import open_store
from ehr.auth.server.launches import create_launch
from ehr.auth.server.registry import connection
from tests.auth.server.support import REDIRECT, AuthServer, claims_of, code_of, create_patient, login, pkce


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=30) as client:
        yield client


def _redeem(http: httpx.Client, auth: AuthServer, client_id: str, code: str, verifier: str,
            redirect: str = REDIRECT) -> httpx.Response:
    return http.post(auth.token_url, data={"grant_type": "authorization_code", "code": code, "client_id": client_id,
                                           "redirect_uri": redirect, "code_verifier": verifier})


def _launch(auth: AuthServer, patient: str, encounter: str | None = None) -> str:
    store = open_store(auth.settings)
    try:
        with store.unit_of_work(write=True) as tx:
            return create_launch(connection(tx), "h1", patient, encounter)
    finally:
        store.close()


def _ehr_launch_tokens(http: httpx.Client, auth: AuthServer, scope: str) -> tuple[str, dict[str, Any]]:
    client_id = auth.public_client()
    verifier, challenge = pkce()
    code = code_of(login(http, auth, client_id, scope, challenge, launch=_launch(auth, "pat-1", "enc-1")))
    response = _redeem(http, auth, client_id, code, verifier)
    assert response.status_code == 200, response.text
    return client_id, response.json()


def test_ehr_launch_gives_context_and_user_claims(http: httpx.Client, auth: AuthServer) -> None:
    _, body = _ehr_launch_tokens(http, auth, "launch patient/*.rs user/Observation.rs system/*.rs openid fhirUser")
    assert (body["patient"], body["encounter"]) == ("pat-1", "enc-1")
    # never system/ for users; no openid: no id_token is issued (fhirUser is a claim of the access token)
    assert body["scope"] == "launch patient/*.rs user/Observation.rs fhirUser"
    assert "refresh_token" not in body
    claims = claims_of(auth, body["access_token"])
    assert (claims["sub"], claims["tenant"], claims["roles"]) == ("alice", "h1", ["clinician"])
    assert (claims["patient"], claims["encounter"], claims["fhirUser"]) == ("pat-1", "enc-1", "Practitioner/p-1")


def test_code_is_one_time_and_bound_to_verifier_and_redirect(http: httpx.Client, auth: AuthServer) -> None:
    client_id = auth.public_client()
    verifier, challenge = pkce()
    launch = _launch(auth, "pat-1")
    code = code_of(login(http, auth, client_id, "launch patient/*.rs", challenge, launch=launch))
    assert _redeem(http, auth, client_id, code, pkce()[0]).json()["error"] == "invalid_grant"  # wrong verifier
    assert _redeem(http, auth, client_id, code, verifier, "http://evil.example/cb").json()["error"] == "invalid_grant"
    first = _redeem(http, auth, client_id, code, verifier)
    assert first.status_code == 200, first.text
    second = _redeem(http, auth, client_id, code, verifier)
    assert (second.status_code, second.json()["error"]) == (400, "invalid_grant")


def test_authorize_refusals(http: httpx.Client, auth: AuthServer) -> None:
    client_id = auth.public_client()
    _, challenge = pkce()
    base = {"response_type": "code", "client_id": client_id, "redirect_uri": REDIRECT, "scope": "user/*.rs",
            "state": "s", "aud": auth.live.base, "code_challenge": challenge, "code_challenge_method": "S256"}
    url = f"{auth.origin}/auth/authorize"
    assert http.get(url, params={**base, "redirect_uri": "http://evil.example/cb"}).status_code == 400
    assert http.get(url, params={**base, "client_id": "nobody"}).status_code == 400
    assert http.get(url, params={**base, "state": ""}).status_code == 400
    for bad in ({"code_challenge_method": "plain"}, {"aud": "http://other.example/fhir"}, {"response_type": "token"}):
        response = http.get(url, params={**base, **bad})
        assert response.status_code == 303  # told to the app, at its registered redirect URI
        sent = parse_qs(urlsplit(response.headers["location"]).query)
        assert response.headers["location"].startswith(REDIRECT)
        assert sent["error"][0] in ("invalid_request", "unsupported_response_type")
        assert sent["state"] == ["s"]
    wrong = login(http, auth, client_id, "user/*.rs", challenge, password="not the password")
    assert wrong.status_code == 401
    assert "Wrong username or password" in wrong.text
    no_patient = login(http, auth, client_id, "launch/patient patient/*.rs", challenge)
    assert no_patient.status_code == 401
    assert "patient" in no_patient.text


def test_standalone_launch_checks_the_patient_in_the_users_hospital(http: httpx.Client, auth: AuthServer) -> None:
    client_id = auth.public_client()
    verifier, challenge = pkce()
    missing = login(http, auth, client_id, "launch/patient patient/*.rs", challenge, patient="no-such-patient")
    assert missing.status_code == 401
    assert "No such patient" in missing.text
    elsewhere = create_patient(auth, tenant="h2")
    assert "No such patient" in login(http, auth, client_id, "launch/patient patient/*.rs", challenge,
                                      patient=elsewhere).text
    patient = create_patient(auth, tenant="h1")
    code = code_of(login(http, auth, client_id, "launch/patient patient/*.rs", challenge, patient=patient))
    body = _redeem(http, auth, client_id, code, verifier).json()
    assert body["patient"] == patient
    assert claims_of(auth, body["access_token"])["patient"] == patient


def test_refresh_rotates_narrows_and_detects_reuse(http: httpx.Client, auth: AuthServer) -> None:
    client_id, body = _ehr_launch_tokens(http, auth, "launch patient/*.rs patient/Observation.rs offline_access")
    first = body["refresh_token"]

    def refresh(token: str, scope: str | None = None) -> httpx.Response:
        form = {"grant_type": "refresh_token", "refresh_token": token, "client_id": client_id}
        return http.post(auth.token_url, data={**form, "scope": scope} if scope else form)

    wider = refresh(first, "patient/*.cruds")
    assert wider.json()["error"] == "invalid_scope"
    narrowed = refresh(first, "patient/Observation.rs")
    assert narrowed.status_code == 200, narrowed.text
    assert narrowed.json()["scope"] == "patient/Observation.rs"
    assert narrowed.json()["patient"] == "pat-1"
    second = narrowed.json()["refresh_token"]
    assert second != first
    reused = refresh(first)
    assert (reused.status_code, reused.json()["error"]) == (400, "invalid_grant")
    assert refresh(second).json()["error"] == "invalid_grant"  # the whole family is revoked
