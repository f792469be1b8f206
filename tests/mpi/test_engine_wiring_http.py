"""The installed matching engine (Splink-trained model, SQL match index) behind a real server, as
``ehr serve`` runs it, on both engines: the same person written at two hospitals is linked to one golden
record as it is written, ``$match`` grades with the engine's scores, and the match index holds no
identifying value in the clear (sealed records, blinded blocking keys)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, select

from ehr.api.app import open_services
from ehr.crypto.maintenance import shred_patient
from ehr.mpi.golden import RECORD_STATUS
from ehr.mpi.tables import mpi_block_keys, mpi_records
from ehr.settings import Settings
from ehr.store.sql.store import SqlStore

from ..conftest import LiveServer
from .helpers import golden_of, parameters

FHIR = {"Content-Type": "application/fhir+json"}


def _patient(family: str, given: str, hospital: str, mrn: str, **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Patient", "name": [{"family": family, "given": [given]}], "gender": "female",
            "birthDate": "1961-07-23", "telecom": [{"system": "phone", "value": "555-0142-7788"}],
            "address": [{"line": ["17 Quillfeather Lane"], "city": "Brackenridge", "postalCode": "40731"}],
            "identifier": [{"system": "http://hl7.org/fhir/sid/us-ssn", "value": "987-65-4321"},
                           {"system": f"http://{hospital}.example.org/mrn", "value": mrn,
                            "type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                 "code": "MR"}]}}], **extra}


def test_the_installed_engine_links_one_person_across_hospitals(db_url: str, tmp_path: Path) -> None:
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path)
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=FHIR, timeout=60) as http:
        first = http.post("/Patient", json=_patient("Wrexingham", "Theodora", "hospital-a", "A-77"),
                          headers={"X-Tenant": "hospital-a"}).json()["id"]
        second = http.post("/Patient", json=_patient("Wrexinghma", "Theodora", "hospital-b", "B-12"),
                           headers={"X-Tenant": "hospital-b"}).json()["id"]
        other = http.post("/Patient", json={"resourceType": "Patient", "name": [{"family": "Ostrander",
                                                                                 "given": ["Milo"]}],
                                            "birthDate": "1990-01-30"}, headers={"X-Tenant": "hospital-c"}).json()["id"]
        golden = golden_of(http, first)
        assert golden is not None
        assert golden_of(http, second) == golden
        assert golden_of(http, other) != golden
        everyone = http.get("/Patient", params={"given": "theodora"}).json()
        assert {e["resource"]["id"] for e in everyone["entry"]} == {first, second, golden}
        sources = http.get("/Patient", params={"given": "theodora",
                                               "_tag:not": f"{RECORD_STATUS}|GOLDEN_RECORD"}).json()
        assert {e["resource"]["id"] for e in sources["entry"]} == {first, second}
        matched = http.post("/Patient/$match", json=parameters(
            resource=_patient("Wrexingham", "Theodora", "hospital-c", "C-1"), onlyCertainMatches=False))
        assert matched.status_code == 200, matched.text
        entries = matched.json()["entry"]
        found = {e["resource"]["id"]: e for e in entries}
        assert {first, second} <= set(found)
        grade = found[first]["search"]["extension"][0]["valueCode"]
        assert grade == "certain"
        assert 0.99 <= found[first]["search"]["score"] <= 1.0
    engine = create_engine(db_url)
    try:
        with engine.connect() as conn:
            stored = b"".join(bytes(r.sealed) for r in conn.execute(select(mpi_records)))
            keys = " ".join(r.block_key for r in conn.execute(select(mpi_block_keys)))
    finally:
        engine.dispose()
    assert stored
    assert keys
    # blocking keys are blind-index digests only (a digit string such as a postal code can turn up inside
    # random hex by chance, so the keys are checked by their form, not by searching them for the values)
    assert all(re.fullmatch(r"[0-9a-f]{32}", key) for key in keys.split()), keys
    for secret in ("wrexingham", "theodora", "1961-07-23", "987654321", "quillfeather", "40731", "5550142"):
        assert secret.encode() not in stored.lower()


def test_shredding_a_patient_also_erases_the_golden_record_made_from_them(db_url: str, tmp_path: Path) -> None:
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path)
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=FHIR, timeout=60) as http:
        first = http.post("/Patient", json=_patient("Wrexingham", "Theodora", "hospital-a", "A-77"),
                          headers={"X-Tenant": "hospital-a"}).json()["id"]
        second = http.post("/Patient", json=_patient("Wrexingham", "Theodora", "hospital-b", "B-12"),
                           headers={"X-Tenant": "hospital-b"}).json()["id"]
        golden = golden_of(http, first)
        assert golden is not None
        assert golden_of(http, second) == golden
        services = open_services(settings)
        try:
            assert isinstance(services.store, SqlStore)
            assert shred_patient(services, services.store, first, "hospital-a", "cli:officer") == ["hospital-a"]
        finally:
            services.store.close()
        assert http.get(f"/Patient/{first}").status_code == 410
        assert http.get(f"/Patient/{golden}").status_code == 410  # its demographics came from the shredded one
        assert golden_of(http, second) is None  # linked again by its next write or `ehr mpi link`
        searched = http.get("/Patient", params={"family": "wrexingham"}).json()
        assert [e["resource"]["id"] for e in searched.get("entry", [])] == [second]
        matched = http.post("/Patient/$match", json=parameters(
            resource=_patient("Wrexingham", "Theodora", "hospital-c", "C-1"), onlyCertainMatches=False))
        assert first not in {e["resource"]["id"] for e in matched.json().get("entry", [])}
