"""No plaintext PHI at rest: patients with known unique names, identifiers, phone, email, address and
birth date (and Observations naming them in ``display``) are written, updated and searched through the
HTTP API; then the raw bytes of the SQLite file, its WAL and shared-memory files, and a ``pg_dump`` of
the PostgreSQL schema hold none of those strings, as given or case-folded.

A positive control (non-identifying text that is indexed in the clear) proves the grep sees the data,
and the same seeding with encryption off shows the grep finds the PHI when it is there."""

from __future__ import annotations

import subprocess
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from ehr.search.values.strings import fold
from ehr.settings import Settings
from tests.conftest import PG_ADMIN_URL, LiveServer

HEADERS = {"Content-Type": "application/fhir+json", "X-Tenant": "hospital-g"}
CONTROL = "Zyxlometric pulse check"  # an Observation code's text: indexed in the clear for :text
PATIENTS = [
    {"family": "Quixotebury", "given": "Zebulon", "mrn": "MRN-83519-QX", "phone": "+44 20 7946 0958",
     "email": "zebulon.quixotebury@example.net", "line": "742 Evergreen Terrace", "city": "Vlissingenburg",
     "postal": "9QX 4ZZ", "birth": "1931-02-17"},
    {"family": "Wolfenstraat", "given": "Ottilie", "mrn": "MRN-40277-WF", "phone": "+31 6 1234 9876",
     "email": "o.wolfenstraat@example.org", "line": "Kromme Haringsteeg 19", "city": "Ulvenhoutsedijk",
     "postal": "4851 KX", "birth": "1948-11-29"},
]


def _patient(p: dict[str, str]) -> dict[str, object]:
    return {"resourceType": "Patient", "name": [{"family": p["family"], "given": [p["given"]]}],
            "identifier": [{"system": "urn:oid:2.16.840.1.113883.19.5", "value": p["mrn"]}],
            "telecom": [{"system": "phone", "value": p["phone"]}, {"system": "email", "value": p["email"]}],
            "birthDate": p["birth"],
            "address": [{"line": [p["line"]], "city": p["city"], "postalCode": p["postal"]}]}


def _seed(http: httpx.Client) -> None:
    for p in PATIENTS:
        created = http.post("/Patient", json=_patient(p))
        assert created.status_code == 201, created.text
        pid = created.json()["id"]
        updated = {**_patient(p), "id": pid, "gender": "unknown"}
        assert http.put(f"/Patient/{pid}", json=updated).status_code == 200
        for _ in range(2):
            observation = {"resourceType": "Observation", "status": "final", "code": {"text": CONTROL},
                           "subject": {"reference": f"Patient/{pid}", "display": f"{p['given']} {p['family']}"},
                           "note": [{"text": f"Seen with {p['given']} {p['family']}, call {p['phone']}"}]}
            assert http.post("/Observation", json=observation).status_code == 201
        found = http.get("/Patient", params={"family": p["family"], "identifier": p["mrn"]}).json()
        assert found["entry"][0]["resource"]["name"][0]["family"] == p["family"]


def _needles() -> list[bytes]:
    values = [v for p in PATIENTS for v in p.values()]
    values += [f"{p['given']} {p['family']}" for p in PATIENTS]
    return sorted({form.encode() for v in values for form in (v, fold(v))})


def _hits(blob: bytes) -> list[bytes]:
    return [needle for needle in _needles() if needle in blob]


def _sqlite_files(folder: Path) -> dict[str, bytes]:
    return {path.name: path.read_bytes() for path in sorted(folder.glob("ehr.db*")) if path.is_file()}


def _pg_dump(db_url: str) -> bytes:
    schema = parse_qs(urlparse(db_url).query)["options"][0].removeprefix("-csearch_path=")
    admin = urlparse(PG_ADMIN_URL)
    done = subprocess.run(["pg_dump", f"--schema={schema}", "-h", admin.hostname or "127.0.0.1",
                           "-U", admin.username or "postgres", admin.path.lstrip("/")],
                          capture_output=True, check=True, timeout=120)
    return done.stdout


def test_no_plaintext_phi_at_rest(db_url: str, tmp_path: Path) -> None:
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path)
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=HEADERS, timeout=60) as http:
        _seed(http)
        if db_url.startswith("sqlite"):
            running = _sqlite_files(tmp_path)
            assert "ehr.db-wal" in running  # the write-ahead log is there and read too
    if db_url.startswith("sqlite"):
        stopped = _sqlite_files(tmp_path)
        blobs = {f"{name} (running)": blob for name, blob in running.items()}
        blobs.update({f"{name} (stopped)": blob for name, blob in stopped.items()})
    else:
        blobs = {"pg_dump": _pg_dump(db_url)}
    assert any(fold(CONTROL).encode() in blob for blob in blobs.values())  # the grep sees the data
    assert {name: _hits(blob) for name, blob in blobs.items()} == {name: [] for name in blobs}


def test_the_grep_finds_phi_when_encryption_is_off(tmp_path: Path) -> None:
    settings = Settings(auth="dev", db_url=f"sqlite:///{tmp_path / 'ehr.db'}", data_dir=tmp_path, encryption=False)
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, headers=HEADERS, timeout=60) as http:
        _seed(http)
    blob = b"".join(_sqlite_files(tmp_path).values())
    as_given = {v.encode() for p in PATIENTS for v in p.values()}
    assert as_given <= set(_hits(blob))


@pytest.mark.parametrize("value", ["Quixotebury", "MRN-83519-QX"])
def test_needles_include_case_folded_forms(value: str) -> None:
    assert value.encode() in _needles()
    assert fold(value).encode() in _needles()
