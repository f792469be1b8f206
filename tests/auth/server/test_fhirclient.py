"""A real SMART client (fhirclient 4.x) from launch to data: standalone launch (the user names the
patient at sign-in) and EHR launch (a launch id from ``ehr launch``), each ending in a Patient read over
the FHIR API with the issued token."""

from __future__ import annotations

from urllib.parse import parse_qsl, urlsplit

import httpx
from fhirclient import client
from fhirclient.models.patient import Patient

from ehr.api.app import open_store
from ehr.auth.server.launches import create_launch
from ehr.auth.server.registry import connection
from tests.auth.server.support import PASSWORD, REDIRECT, AuthServer, create_patient


def _smart(auth: AuthServer, client_id: str, launch: str | None = None) -> client.FHIRClient:
    settings = {"app_id": client_id, "api_base": auth.live.base + "/", "redirect_uri": REDIRECT,
                "scope": "patient/*.rs openid fhirUser"}
    if launch is not None:
        settings["launch_token"] = launch
    # fhirclient 4.x discovers the endpoints itself, from /metadata's rest.security oauth-uris extension
    return client.FHIRClient(settings=settings)


def _sign_in(smart: client.FHIRClient, patient: str | None = None) -> None:
    """What the browser does: open the login page, submit it, follow the redirect to the app."""
    url = smart.authorize_url
    with httpx.Client(timeout=30) as browser:
        page = browser.get(url)
        assert page.status_code == 200, page.text
        form = {**dict(parse_qsl(urlsplit(url).query)), "username": "alice", "password": PASSWORD}
        if patient is not None:
            form["patient"] = patient
        answer = browser.post(url.split("?")[0], data=form)
    assert answer.status_code == 303, answer.text
    smart.handle_callback(answer.headers["location"])


def test_standalone_launch_to_a_patient_read(auth: AuthServer) -> None:
    patient_id = create_patient(auth, "h1")
    smart = _smart(auth, auth.public_client())
    _sign_in(smart, patient=patient_id)
    assert smart.ready
    assert smart.patient_id == patient_id
    patient = Patient.read(patient_id, smart.server)
    assert patient.id == patient_id
    assert patient.name[0].family == "Doe"


def test_ehr_launch_to_a_patient_read(auth: AuthServer) -> None:
    patient_id = create_patient(auth, "h1")
    store = open_store(auth.settings)
    try:
        with store.unit_of_work(write=True) as tx:
            launch = create_launch(connection(tx), "h1", patient_id)
    finally:
        store.close()
    smart = _smart(auth, auth.public_client(), launch=launch)
    _sign_in(smart)
    assert smart.patient_id == patient_id
    assert Patient.read(patient_id, smart.server).id == patient_id
