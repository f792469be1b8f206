"""``ehr mpi link`` and ``ehr demo``'s linking, on both engines: records stored before linking was on
are linked in one pass (counts, histogram, PNG plot), manual decisions survive a re-link, and the
demo's person known at two hospitals ends linked or under review."""

from __future__ import annotations

import io
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from rich.console import Console
from typer.testing import CliRunner

from ehr.cli.demo import load_demo
from ehr.cli.main import app
from ehr.settings import Settings

from ..conftest import LiveServer
from .fake import FakeMatcher
from .helpers import golden_of, parameters, person, reviews, sources_of


def _store_unlinked(settings: Settings, bodies: list[tuple[str, dict[str, Any]]]) -> list[str]:
    """Patients written while no matcher was running."""
    ids = []
    with LiveServer(replace(settings, mpi=False)) as live, httpx.Client(base_url=live.base, timeout=60) as http:
        for hospital, body in bodies:
            response = http.post("/Patient", json=body, headers={"X-Tenant": hospital})
            assert response.status_code == 201, response.text
            ids.append(str(response.json()["id"]))
        assert "link" not in http.get(f"/Patient/{ids[0]}").json()
    return ids


def _run_link(monkeypatch: pytest.MonkeyPatch, settings: Settings, *extra: str) -> str:
    monkeypatch.setattr("ehr.mpi.service.load_matcher", lambda _settings: FakeMatcher())
    result = CliRunner().invoke(app, ["mpi", "link", "--db", str(settings.db_url), "--data-dir",
                                      str(settings.data_dir), *extra])
    assert result.exit_code == 0, result.output
    return result.output


def test_mpi_link_links_the_whole_index(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path)
    ids = _store_unlinked(settings, [
        ("hospital-a", person("Smith")), ("hospital-b", person("Smith")), ("hospital-c", person("Smith")),
        ("hospital-a", person("Johnson", given="Eve")), ("hospital-b", person("Jonhson", given="Eve")),
        ("hospital-a", person("Alone", given="Max", birth="1999-09-09")),
    ])
    plot = tmp_path / "plots" / "scores.png"
    output = _run_link(monkeypatch, settings, "--plot", str(plot))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    counts = next(line for line in output.splitlines() if line.strip().startswith("│ 6"))
    assert counts.split("│")[1:5] == [" 6       ", " 4       ", " 3          ", " 1       "]
    assert "0.9–1.0 │ 3 " in output  # three certain pairs among the Smiths
    with LiveServer(settings, matcher=FakeMatcher()) as live, httpx.Client(base_url=live.base, timeout=60) as http:
        golden = golden_of(http, ids[0])
        assert sources_of(http, str(golden)) == sorted(ids[:3])
        assert golden_of(http, ids[3]) != golden_of(http, ids[4])
        assert len(reviews(http, status="requested")) == 1
        # a steward's unlink survives the next re-link
        assert http.post("/Patient/$mdm-unlink", json=parameters(source=f"Patient/{ids[2]}")).status_code == 200
        own = golden_of(http, ids[2])
    _run_link(monkeypatch, settings)
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, timeout=60) as http:
        assert golden_of(http, ids[2]) == own
        assert sources_of(http, str(golden)) == sorted(ids[:2])
        assert len(reviews(http)) == 1


def _bundle(family: str, given: str, birth: str, mrn: str, hospital: str) -> bytes:
    patient = {"resourceType": "Patient", "name": [{"family": family, "given": [given]}], "birthDate": birth,
               "identifier": [{"type": {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203",
                                                     "code": "MR"}]},
                               "system": f"http://{hospital}.example.org/mrn", "value": mrn}]}
    return orjson.dumps({"resourceType": "Bundle", "type": "transaction", "entry": [
        {"fullUrl": f"urn:uuid:00000000-0000-0000-0000-{mrn.zfill(12)}", "resource": patient,
         "request": {"method": "POST", "url": "Patient"}}]})


def test_demo_links_the_person_known_at_two_hospitals(db_url: str, tmp_path: Path) -> None:
    """The demo's sources are written beforehand (generating them needs Synthea); the shared person
    has two letters of the family name swapped at hospital B, which the fake matcher grades probable."""
    source = tmp_path / "demo-source"
    for number, (hospital, family) in enumerate([("hospital-a", "Lindqvist"), ("hospital-b", "Okafor"),
                                                  ("hospital-c", "Harrison")]):
        (source / hospital).mkdir(parents=True)
        (source / hospital / "patient-000.json").write_bytes(
            _bundle(family, "Dana", f"197{number}-02-03", f"{number + 1}001", hospital))
    settings = Settings(auth="dev", db_url=db_url, data_dir=tmp_path)
    load_demo(settings, 1, Console(file=io.StringIO()), matcher=FakeMatcher())
    with LiveServer(settings) as live, httpx.Client(base_url=live.base, timeout=60) as http:
        a = http.get("/Patient", params={"identifier": "http://hospital-a.example.org/mrn|1001"}).json()
        b = http.get("/Patient", params={"identifier": "http://hospital-b.example.org/mrn|B1001"}).json()
        first, shared = a["entry"][0]["resource"], b["entry"][0]["resource"]
        assert shared["name"][0]["family"] == "Lidnqvist"
        tasks = reviews(http, status="requested")
        assert [(t["focus"]["reference"], t["input"][0]["valueReference"]["reference"]) for t in tasks] in (
            [(f"Patient/{first['id']}", f"Patient/{shared['id']}")],
            [(f"Patient/{shared['id']}", f"Patient/{first['id']}")])
