"""The authorization matrix: every caller of ``matrix.cases()`` (tenant x role x scopes x purpose x
break-glass) against every interaction over the matrix's world, on the in-memory store, SQLite and
PostgreSQL. Each test collects every disagreement with the oracle (``matrix``) and asserts there is
none: no leak (anything returned, or a 404/403 difference, the oracle hides) and no wrongful denial.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.auth.driver import Answer, Driver, open_driver
from tests.auth.matrix import (
    LAB_CODE,
    LAUNCH,
    LINKS,
    LOINC,
    PATIENTS,
    TYPES,
    Case,
    Item,
    allows,
    allows_search_somewhere,
    body,
    cases,
    covers,
    creatable,
    found,
    may_create,
    observation,
    read_status,
    writable,
)
from tests.conftest import database_url, drop_schema

ENGINES = ["memory", "sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
CASES = cases()

World = tuple[Driver, list[Item]]


@pytest.fixture(scope="module", params=ENGINES)
def world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
          pg_available: bool) -> Iterator[World]:
    yield from _world(str(request.param), tmp_path_factory.mktemp("matrix"), pg_available)


@pytest.fixture(params=ENGINES)
def fresh_world(request: pytest.FixtureRequest, tmp_path: Path, pg_available: bool) -> Iterator[World]:
    yield from _world(str(request.param), tmp_path, pg_available)


def _world(kind: str, tmp_path: Path, pg_available: bool) -> Iterator[World]:
    url = None if kind == "memory" else database_url(kind, tmp_path, pg_available)
    try:
        with open_driver(kind, url) as opened:
            yield opened
    finally:
        if url is not None:
            drop_schema(url)


def _expect_set(problems: list[str], label: str, answer: Answer, allowed: bool, expected: set[str],
                mode: str | None = "match") -> None:
    if not allowed:
        if answer.status != 403:
            problems.append(f"{label}: {answer.status}, expected 403")
        return
    if answer.status != 200:
        problems.append(f"{label}: {answer.status}, expected 200")
        return
    got = answer.ids(mode)
    if got - expected:
        problems.append(f"{label}: LEAK {sorted(got - expected)}")
    if expected - got:
        problems.append(f"{label}: WRONGFUL DENIAL {sorted(expected - got)}")


def _by_key(items: list[Item]) -> dict[str, Item]:
    return {i.key: i for i in items}


def test_read_vread_and_instance_history(world: World) -> None:
    driver, items = world
    problems: list[str] = []
    for case in CASES:
        for item in items:
            want = read_status(case, item)
            for label, answer in (("read", driver.read(case, item)), ("vread", driver.vread(case, item)),
                                  ("history", driver.history(case, item.resource_type, item.id))):
                if label != "read" and want == 410:
                    want = 200
                if answer.status != want:
                    problems.append(f"{case.name} {label} {item.key}: {answer.status}, expected {want}")
                elif label == "history" and want == 200 and len(answer.ids(None)) != 1:
                    problems.append(f"{case.name} history {item.key}: entries of other resources")
    assert not problems, "\n".join(problems)


def test_type_and_system_search(world: World) -> None:
    driver, items = world
    problems: list[str] = []
    for case in CASES:
        for resource_type in TYPES:
            expected = {i.key for i in items if i.resource_type == resource_type and found(case, i)}
            _expect_set(problems, f"{case.name} {resource_type}?", driver.search(case, resource_type),
                        allows(case, resource_type, "s"), expected)
        expected = {i.key for i in items if found(case, i)}
        _expect_set(problems, f"{case.name} system search", driver.search(case, None),
                    allows_search_somewhere(case), expected)
        for pid in PATIENTS:
            expected = {i.key for i in items if i.patient == pid and found(case, i)}
            _expect_set(problems, f"{case.name} Patient/{pid}/*", driver.compartment(case, pid),
                        allows_search_somewhere(case), expected)
    assert not problems, "\n".join(problems)


def test_chains_and_has(world: World) -> None:
    driver, items = world
    keyed = _by_key(items)
    problems: list[str] = []
    observations = [i for i in items if i.resource_type == "Observation"]
    for case in CASES:
        for pid, (_, family) in PATIENTS.items():
            patient_seen = covers(case, keyed[f"Patient/{pid}"])
            expected = {o.key for o in observations if o.subject == pid and covers(case, o) and patient_seen}
            answer = driver.search(case, "Observation", [("subject:Patient.name", family)])
            _expect_set(problems, f"{case.name} chain {family}", answer, allows(case, "Observation", "s"), expected)
        labs = {o.subject for o in observations if o.category == "laboratory" and covers(case, o)}
        expected = {i.key for i in items if i.resource_type == "Patient" and i.id in labs and covers(case, i)}
        answer = driver.search(case, "Patient", [("_has:Observation:subject:code", f"{LOINC}|{LAB_CODE}")])
        _expect_set(problems, f"{case.name} _has", answer, allows(case, "Patient", "s"), expected)
    assert not problems, "\n".join(problems)


def test_include_and_revinclude(world: World) -> None:
    driver, items = world
    keyed = _by_key(items)
    problems: list[str] = []
    for case in CASES:
        seen_obs = [i for i in items if i.resource_type == "Observation" and covers(case, i)]
        can = allows(case, "Observation", "s")
        answer = driver.search(case, "Observation", [("_include", "Observation:subject")])
        subjects = {f"Patient/{o.subject}" for o in seen_obs if o.subject}
        _expect_set(problems, f"{case.name} _include subject", answer, can, {o.key for o in seen_obs})
        _expect_set(problems, f"{case.name} _include subject (included)", answer, can,
                    {k for k in subjects if covers(case, keyed[k])}, mode="include")
        answer = driver.search(case, "Observation", [("_include", "Observation:performer")])
        performers = {f"Practitioner/dr-{o.tenant[0]}" for o in seen_obs}
        _expect_set(problems, f"{case.name} _include performer (included)", answer, can,
                    {k for k in performers if k in keyed and covers(case, keyed[k])}, mode="include")
        patients = {i.id for i in items if i.resource_type == "Patient" and covers(case, i)}
        answer = driver.search(case, "Patient", [("_revinclude", "Observation:subject")])
        _expect_set(problems, f"{case.name} _revinclude (included)", answer, allows(case, "Patient", "s"),
                    {o.key for o in seen_obs if o.subject in patients}, mode="include")
    assert not problems, "\n".join(problems)


def test_type_and_system_history(world: World) -> None:
    driver, items = world
    problems: list[str] = []
    for case in CASES:
        expected = {i.key for i in items if i.resource_type == "Observation" and covers(case, i)}
        _expect_set(problems, f"{case.name} Observation/_history", driver.history(case, "Observation", None),
                    allows(case, "Observation", "s"), expected, mode=None)
        _expect_set(problems, f"{case.name} /_history", driver.history(case, None, None),
                    allows_search_somewhere(case), {i.key for i in items if covers(case, i)}, mode=None)
    assert not problems, "\n".join(problems)


def test_everything(world: World) -> None:
    driver, items = world
    keyed = _by_key(items)
    problems: list[str] = []
    for case in CASES:
        for pid in [*PATIENTS, "g1"]:
            patient = keyed[f"Patient/{pid}"]
            answer = driver.everything(case, pid)
            want = read_status(case, patient)
            if answer.status != want:
                problems.append(f"{case.name} $everything {pid}: {answer.status}, expected {want}")
                continue
            if want == 200:
                expected = {i.key for i in items if i.patient == pid and i.tenant != "mpi" and found(case, i)}
                _expect_set(problems, f"{case.name} $everything {pid}", answer, True, expected, mode=None)
    assert not problems, "\n".join(problems)


def test_batch_of_reads_and_searches(world: World) -> None:
    driver, items = world
    keyed = _by_key(items)
    targets = ["Patient/pa1", "Patient/pb1", "Observation/obs-lab-pb1", "Practitioner/dr-b", "Condition/cond-pa2"]
    problems: list[str] = []
    for case in CASES:
        entries = [{"request": {"method": "GET", "url": key}} for key in targets]
        entries.append({"request": {"method": "GET", "url": "Observation?subject=Patient/pb1"}})
        answer = driver.bundle(case, "batch", entries)
        assert answer.status == 200, (case.name, answer)
        assert answer.body is not None
        got = [int(e["response"]["status"].split()[0]) for e in answer.body["entry"]]
        want = [read_status(case, keyed[k]) for k in targets]
        want.append(200 if allows(case, "Observation", "s") else 403)
        if got != want:
            problems.append(f"{case.name} batch: {got}, expected {want}")
        if got[-1] == 200:
            bundle = answer.body["entry"][-1]["resource"]
            found = Answer(200, bundle).ids()
            expected = {i.key for i in items if i.resource_type == "Observation" and i.subject == "pb1"
                        and covers(case, i)}
            if found != expected:
                problems.append(f"{case.name} batch search: {sorted(found)}, expected {sorted(expected)}")
    assert not problems, "\n".join(problems)


def _other(tenant: str) -> str:
    """The launch patient's record in another hospital (the same person)."""
    launch = LAUNCH[tenant]
    return next(p for p, g in LINKS.items() if g == LINKS[launch] and p != launch)


def _own_other(tenant: str) -> str:
    return next(p for p, (t, _) in PATIENTS.items() if t == tenant and p != LAUNCH[tenant])


def _observation_count(driver: Driver) -> int:
    return len(driver.search(Case("dev", "alpha", None), "Observation").ids())


def test_writes(fresh_world: World) -> None:
    driver, items = fresh_world
    keyed = _by_key(items)
    problems: list[str] = []
    for case in [c for c in CASES if c.scopes is not None and c.tenant in LAUNCH and c.tenant != "gamma"]:
        launch, other, own_other = LAUNCH[case.tenant], _other(case.tenant), _own_other(case.tenant)
        before = _observation_count(driver)
        created = 0
        for pid in (launch, own_other, other):
            for category in ("laboratory", "vital-signs"):
                resource = observation("ignored", category, pid, case.tenant)
                want = 201 if may_create(case, pid, category) else 403
                got = driver.create(case, resource).status
                created += got == 201
                if got != want:
                    problems.append(f"{case.name} create {category} for {pid}: {got}, expected {want}")
        if _observation_count(driver) != before + created:
            problems.append(f"{case.name}: creates refused but written")
        for key in (f"Observation/obs-vit-{launch}", f"Observation/obs-lab-{launch}",
                    f"Observation/obs-lab-{own_other}", f"Observation/obs-lab-{other}", f"Patient/{other}"):
            item = keyed[key]
            invisible = 409 if creatable(case, item) else 403
            want = (403 if not allows(case, item.resource_type, "u") else invisible if not covers(case, item)
                    else 403 if not writable(case, item, "u") else 200)
            got = driver.put(case, body(item, 3)).status
            if got != want:
                problems.append(f"{case.name} update {key}: {got}, expected {want}")
        target = keyed[f"Observation/obs-vit-{other}"]
        want = 403 if not allows(case, "Observation", "d") else 404 if not covers(case, target) else 403
        got = driver.delete(case, target).status
        if got != want:
            problems.append(f"{case.name} delete {target.key}: {got}, expected {want}")
        _check_transactions(driver, case, keyed, problems)
    dev = Case("dev", "beta", None)
    for pid in LINKS:
        if pid in PATIENTS and driver.read(dev, keyed[f"Patient/{pid}"]).status != 200:
            problems.append(f"Patient/{pid} was deleted or lost")
    for item in items:
        if driver.read(Case("dev", item.tenant, None), item).status != (410 if item.deleted else 200):
            problems.append(f"{item.key} disappeared")
    assert not problems, "\n".join(problems)


def _check_transactions(driver: Driver, case: Case, keyed: dict[str, Item], problems: list[str]) -> None:
    launch, other = LAUNCH[case.tenant], _other(case.tenant)
    post = {"fullUrl": "urn:uuid:6f0e4c1a-0000-4000-8000-000000000001",
            "resource": observation("x", "laboratory", launch, case.tenant),
            "request": {"method": "POST", "url": "Observation"}}
    put = {"resource": body(keyed[f"Patient/{other}"], 4), "request": {"method": "PUT", "url": f"Patient/{other}"}}
    before = _observation_count(driver)
    answer = driver.bundle(case, "transaction", [post, put])
    if answer.status == 200 or _observation_count(driver) != before:
        problems.append(f"{case.name} transaction writing into another hospital: {answer.status}")
    want = 200 if may_create(case, launch, "laboratory") else 403
    answer = driver.bundle(case, "transaction", [post])
    if answer.status != want:
        problems.append(f"{case.name} transaction creating for the launch patient: {answer.status}, expected {want}")
    if _observation_count(driver) != before + (want == 200):
        problems.append(f"{case.name} transaction: wrong number of Observations written")
