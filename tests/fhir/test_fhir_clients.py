"""Real FHIR client libraries against the live server (SQLite): ``fhirpy`` (beda-software) and
``fhirclient`` (SMART on FHIR). They send what real integrations send (``application/json`` bodies,
their own headers and URL shapes), which our own httpx tests might not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fhirclient import client as smart_client
from fhirclient.models.humanname import HumanName
from fhirclient.models.patient import Patient as SmartPatient
from fhirpy import SyncFHIRClient
from fhirpy.base.exceptions import ResourceNotFound

from ehr.settings import Settings

from ..conftest import LiveServer


@pytest.fixture
def live(tmp_path: Path) -> Iterator[LiveServer]:
    # compares Patient search results: no golden records
    settings = Settings(auth="dev", db_url=f"sqlite:///{tmp_path / 'ehr.db'}", data_dir=tmp_path, mpi=False)
    with LiveServer(settings) as server:
        yield server


def _family(resource: Any) -> str:
    return str(resource["name"][0]["family"])


def test_fhirpy_create_search_fetch_update_delete(live: LiveServer) -> None:
    fhir = SyncFHIRClient(live.base)
    created = fhir.resource("Patient", name=[{"family": "Fhirpy", "given": ["Ada"]}], gender="female")
    created.save()
    pid = created.id
    assert pid
    assert created["meta"]["versionId"] == "1"
    fhir.resource("Patient", name=[{"family": "Someone Else"}]).save()

    found = fhir.resources("Patient").search(family="Fhirpy").fetch()
    assert [p.id for p in found] == [pid]
    assert fhir.resources("Patient").search(name="ada").first() is not None
    assert len(fhir.resources("Patient").fetch_all()) == 2

    fetched = fhir.reference("Patient", pid).to_resource()
    assert _family(fetched) == "Fhirpy"
    fetched["birthDate"] = "1815-12-10"
    fetched.save()
    assert fetched["meta"]["versionId"] == "2"
    assert fhir.resources("Patient").search(birthdate="1815").fetch()[0].id == pid

    fetched.delete()  # type: ignore[no-untyped-call]
    with pytest.raises(ResourceNotFound):
        fhir.reference("Patient", pid).to_resource()
    assert fhir.resources("Patient").search(family="Fhirpy").fetch() == []


def test_fhirpy_conditional_update_and_delete(live: LiveServer) -> None:
    """fhirpy's searchset update/delete are FHIR conditional update and delete (PUT/DELETE Type?query).
    (Its ``get_or_create`` puts the criteria in a POST's query string instead of If-None-Exist, which
    is not FHIR R4, so it is not exercised here.)"""
    fhir = SyncFHIRClient(live.base)
    patient = fhir.resource("Patient", identifier=[{"system": "urn:mrn", "value": "7"}], gender="male")
    first, created = fhir.resources("Patient").search(identifier="urn:mrn|7").update(patient)
    assert created
    patient["gender"] = "female"
    again, created_again = fhir.resources("Patient").search(identifier="urn:mrn|7").update(patient)
    assert not created_again
    assert again.id == first.id
    assert again["meta"]["versionId"] == "2"
    _, status = fhir.resources("Patient").search(identifier="urn:mrn|7").delete()
    assert status == 204
    with pytest.raises(ResourceNotFound):
        fhir.reference("Patient", first.id).to_resource()


def test_smart_fhirclient_create_read_search(live: LiveServer) -> None:
    smart = smart_client.FHIRClient(settings={"app_id": "ehr-tests", "api_base": live.base + "/"})
    patient = SmartPatient()
    name = HumanName()
    name.family = "Smart"
    name.given = ["Grace"]
    patient.name = [name]
    patient.gender = "female"
    answer = patient.create(smart.server)
    assert answer is not None
    assert answer["resourceType"] == "Patient"
    pid = answer["id"]

    read = SmartPatient.read(pid, smart.server)
    assert read.id == pid
    assert read.name[0].family == "Smart"
    assert read.meta.versionId == "1"

    read.gender = "other"
    read.update(smart.server)
    assert SmartPatient.read(pid, smart.server).meta.versionId == "2"

    hits = list(SmartPatient.where(struct={"family": "Smart"}).perform_resources_iter(smart.server))
    assert [p.id for p in hits] == [pid]

    read.delete(smart.server)
    gone = httpx.get(f"{live.base}/Patient/{pid}")
    assert gone.status_code == 410
