"""A seeded population of small, edge-heavy resources: Organizations (a ``partOf`` chain), Practitioners,
Patients, Encounters, Observations, Conditions and RiskAssessments, then a few updates and deletions; and,
from :mod:`tests.search.oracle.population_terms`, CodeSystems, ValueSets, typed and referenced identifiers and
Observations with components.

Edge values on purpose: dates at every precision with and without time zones (and Periods open on one
side), quantities of one dimension in different UCUM units and with comparators, missing elements,
accented and case-varied names, values repeated across resources, several codings in one concept,
concepts with only text, concepts with a text besides their codings' displays and codings with only a
display (``:text``), references with a display and with only a display (``:text`` on references).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from tests.search.oracle import population_terms as terms

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
MRN = "http://hospital.example/mrn"
ORG_NAMES = ["Hôpital Général", "General Hospital", "Clinique du Lac", "Straße Klinik", "Smith, Jones & Co",
             "St. Ángel Clinic", "general practice"]
FAMILIES = ["Müller", "Muller", "Ángel", "angel", "Nguyễn", "Zoë", "O'Brien", "Smith-Jones", "Smith"]
GIVENS = ["José", "Jose", "Anne Marie", "Ève", "Li", "Björn"]
CODES = [("8867-4", "Heart rate"), ("29463-7", "Body weight"), ("2339-0", "Glucose [Mass/volume] in Blood"),
         ("8310-5", "Body temperature"), ("72166-2", "Tobacco smoking status")]
CONDITIONS = [("44054006", "Diabetes mellitus type 2"), ("38341003", "Hypertensive disorder"),
              ("195662009", "Acute viral pharyngitis")]
#: CodeableConcept.text of some Conditions, besides the coding's display
CONDITION_TEXTS = {"44054006": "Type 2 diabetes", "38341003": "High blood pressure",
                   "195662009": "Sore throat | pharyngitis"}
#: a second coding, with only a display, in some Observation categories
CATEGORY_LABELS = {"vital-signs": "Signes vitaux", "laboratory": "Résultats de laboratoire"}
#: a value of each LOINC code in several units (value, UCUM code): same quantity, different units
QUANTITIES = {
    "8867-4": [(72, "/min"), (1.2, "/s"), (88.5, "/min")],
    "29463-7": [(70.5, "kg"), (70500, "g"), (155.4, "[lb_av]"), (82, "kg")],
    "2339-0": [(95, "mg/dL"), (0.95, "g/L"), (5.4, "mg/dL"), (120.25, "mg/dL")],
    "8310-5": [(37, "Cel"), (98.6, "[degF]"), (310.15, "K"), (36.85, "Cel")],
}
DATES = ["2021", "2021-03", "2021-03-15", "2021-03-15T10:30:45.5+00:00", "2021-03-15T10:30:00Z",
         "2021-03-15T10:30:00+02:00", "2021-03-15T23:30:00-05:00", "2021-03-16T01:00:00.250Z", "2020-12-31T23:59:59Z",
         "2022-01-01"]


@dataclass
class Population:
    first: list[dict[str, Any]] = field(default_factory=list)
    #: second versions of some of ``first`` (their old values must no longer match)
    updates: list[dict[str, Any]] = field(default_factory=list)
    #: (type, id) deleted after the writes
    deletes: list[tuple[str, str]] = field(default_factory=list)


def _coding(system: str, pair: tuple[str, str]) -> dict[str, str]:
    return {"system": system, "code": pair[0], "display": pair[1]}


def _maybe(rng: random.Random, p: float, value: Any) -> dict[str, Any]:
    return value if rng.random() < p else {}


def _ref(reference: str, display: str | None) -> dict[str, str]:
    return {"reference": reference, **({"display": display} if display else {})}


def display_name(person: dict[str, Any]) -> str:
    """How a reference to ``person`` (a Patient or Practitioner) names it: ``given family``."""
    name = person["name"][0]
    return f"{name['given'][0]} {name['family']}"


def organizations(rng: random.Random, n: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        org: dict[str, Any] = {"resourceType": "Organization", "id": f"org-{i}", "name": ORG_NAMES[i % len(ORG_NAMES)],
                               **_maybe(rng, 0.7, {"active": rng.random() < 0.7})}
        if i:
            org["partOf"] = {"reference": f"Organization/org-{rng.randrange(i)}"}
        if rng.random() < 0.6:
            org["type"] = [{"coding": [{"system": "http://terminology.hl7.org/CodeSystem/organization-type",
                                        "code": rng.choice(["prov", "dept", "team"])}]}]
        if rng.random() < 0.4:
            org["meta"] = {"tag": [{"system": "urn:test:tag", "code": rng.choice(["a", "b"])}],
                           "profile": ["http://example.org/StructureDefinition/org"]}
        out.append(org)
    return out


def practitioners(rng: random.Random, n: int) -> list[dict[str, Any]]:
    return [{"resourceType": "Practitioner", "id": f"dr-{i}", "name": [{"family": rng.choice(FAMILIES),
             "given": [rng.choice(GIVENS)]}], **_maybe(rng, 0.6, {"active": True})} for i in range(n)]


def patients(rng: random.Random, n: int, orgs: int, doctors: list[str]) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        p: dict[str, Any] = {"resourceType": "Patient", "id": f"pat-{i}",
                             "name": [{"family": rng.choice(FAMILIES), "given": rng.sample(GIVENS, rng.randint(1, 2))}],
                             "identifier": [{"system": MRN, "value": f"MRN{rng.randrange(n)}"}]}  # repeats
        p.update(_maybe(rng, 0.85, {"gender": rng.choice(["male", "female", "other", "unknown"])}))
        p.update(_maybe(rng, 0.8, {"birthDate": rng.choice(["1970", "1970-03", "1970-03-15", "1985-11-02"])}))
        org = {"reference": f"Organization/org-{rng.randrange(orgs)}"}
        p.update(_maybe(rng, 0.7, {"managingOrganization": org}))
        k = rng.randrange(len(doctors))
        doctor = _ref(f"Practitioner/dr-{k}", f"Dr. {doctors[k]}" if i % 2 else None)
        p.update(_maybe(rng, 0.5, {"generalPractitioner": [doctor]}))
        p.update(_maybe(rng, 0.3, {"deceasedBoolean": rng.random() < 0.5}))
        p.update(_maybe(rng, 0.6, {"active": rng.random() < 0.8}))
        out.append(p)
    return out


def _period(rng: random.Random) -> dict[str, str]:
    start, end = sorted(rng.sample(DATES[:3] + DATES[8:], 2))
    return rng.choice([{"start": start}, {"end": end}, {"start": start, "end": end}])


def encounters(rng: random.Random, n: int, pats: int, orgs: int, doctors: list[str]) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        e: dict[str, Any] = {"resourceType": "Encounter", "id": f"enc-{i}",
                             "status": rng.choice(["finished", "in-progress", "planned"]),
                             "class": {"system": "http://terminology.hl7.org/CodeSystem/v3-ActCode",
                                       "code": rng.choice(["AMB", "IMP", "EMER"])},
                             "subject": {"reference": f"Patient/pat-{rng.randrange(pats)}"}}
        e.update(_maybe(rng, 0.8, {"period": _period(rng)}))
        e.update(_maybe(rng, 0.5, {"length": {"value": rng.choice([30, 0.5, 45.5, 1800]), "system": UCUM,
                                              "code": rng.choice(["min", "h", "s"])}}))
        k = rng.randrange(orgs)
        provider = _ref(f"Organization/org-{k}", ORG_NAMES[k % len(ORG_NAMES)] if i % 2 == 0 else None)
        e.update(_maybe(rng, 0.6, {"serviceProvider": provider}))
        k = rng.randrange(len(doctors))
        doctor = _ref(f"Practitioner/dr-{k}", doctors[k] if i % 3 else None)
        e.update(_maybe(rng, 0.6, {"participant": [{"individual": doctor}]}))
        out.append(e)
    return out


def _effective(rng: random.Random) -> dict[str, Any]:
    return rng.choice([{"effectiveDateTime": rng.choice(DATES)}, {"effectivePeriod": _period(rng)},
                       {"effectiveInstant": "2021-03-15T10:30:00.123Z"}, {}])


def _value(rng: random.Random, code: str) -> dict[str, Any]:
    if code in QUANTITIES and rng.random() < 0.85:
        value, unit = rng.choice(QUANTITIES[code])
        quantity: dict[str, Any] = {"value": value, "unit": unit, "system": UCUM, "code": unit}
        if rng.random() < 0.1:
            quantity["comparator"] = rng.choice(["<", ">="])
        return {"valueQuantity": quantity}
    return rng.choice([{"valueString": rng.choice(["Never smoker", "Ex-smoker", "Négatif", "positive result"])},
                       {"valueCodeableConcept": {"coding": [_coding(SNOMED, ("266919005", "Never smoked tobacco"))],
                                                 "text": "never smoked"}}, {}])


def observations(rng: random.Random, n: int, pats: list[str], encs: int, doctors: list[str]) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        code = rng.choice(CODES)
        concept: dict[str, Any] = {"coding": [_coding(LOINC, code)]}
        if rng.random() < 0.2:
            concept["coding"].append({"system": "urn:local:codes", "code": f"L{code[0]}"})
        if rng.random() < 0.3:
            concept["text"] = code[1].upper()
        o: dict[str, Any] = {"resourceType": "Observation", "id": f"obs-{i}",
                             "status": rng.choice(["final", "amended", "preliminary"]), "code": concept,
                             **_effective(rng), **_value(rng, code[0])}
        k = rng.randrange(len(pats))
        o.update(_maybe(rng, 0.9, {"subject": _ref(f"Patient/pat-{k}", pats[k] if i % 3 else None)}))
        o.update(_maybe(rng, 0.5, {"encounter": {"reference": f"Encounter/enc-{rng.randrange(encs)}"}}))
        k = rng.randrange(len(doctors))
        performer = {"display": f"Dr {doctors[k]}, on call"} if i % 5 == 1 else _ref(f"Practitioner/dr-{k}", None)
        o.update(_maybe(rng, 0.4, {"performer": [performer]}))
        category = rng.choice(["vital-signs", "laboratory"])
        label = [{"display": CATEGORY_LABELS[category]}] if i % 3 == 2 else []
        o.update(_maybe(rng, 0.5, {"category": [{"coding": [{
            "system": "http://terminology.hl7.org/CodeSystem/observation-category", "code": category}, *label]}]}))
        out.append(o)
    return out


def conditions(rng: random.Random, n: int, pats: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        condition = rng.choice(CONDITIONS)
        text = {"text": CONDITION_TEXTS[condition[0]]} if i % 3 == 1 else {}
        c: dict[str, Any] = {"resourceType": "Condition", "id": f"cond-{i}",
                             "code": {"coding": [_coding(SNOMED, condition)], **text},
                             "subject": {"reference": f"Patient/pat-{rng.randrange(pats)}"},
                             "clinicalStatus": {"coding": [{
                                 "system": "http://terminology.hl7.org/CodeSystem/condition-clinical",
                                 "code": rng.choice(["active", "resolved"])}]}}
        c.update(rng.choice([{"onsetDateTime": rng.choice(DATES)}, {"onsetPeriod": _period(rng)},
                             {"onsetAge": {"value": rng.choice([40, 52.5, 61]), "unit": "a", "system": UCUM,
                                           "code": "a"}}, {"onsetString": "childhood"}, {}]))
        c.update(_maybe(rng, 0.5, {"recordedDate": rng.choice(DATES)}))
        out.append(c)
    return out


def risk_assessments(rng: random.Random, n: int, pats: int) -> list[dict[str, Any]]:
    out = []
    for i in range(n):
        prediction = rng.choice([{"probabilityDecimal": rng.choice([0.25, 0.2, 0.3, 0.125, 1, 0.05])},
                                 {"probabilityRange": {"low": {"value": 0.1}, "high": {"value": 0.4}}}])
        out.append({"resourceType": "RiskAssessment", "id": f"risk-{i}", "status": "final",
                    "subject": {"reference": f"Patient/pat-{rng.randrange(pats)}"}, "prediction": [prediction]})
    return out


def build(seed: int, scale: int = 1) -> Population:
    rng = random.Random(seed)
    orgs, pats, encs = 6, 14 * scale, 12 * scale
    organization = organizations(rng, orgs)
    doctors = practitioners(rng, 4)
    doctor_names = [display_name(d) for d in doctors]
    people = patients(rng, pats, orgs, doctor_names)
    first = [*organization, *doctors, *people, *encounters(rng, encs, pats, orgs, doctor_names),
             *observations(rng, 45 * scale, [display_name(p) for p in people], encs, doctor_names),
             *conditions(rng, 15 * scale, pats), *risk_assessments(rng, 8, pats)]
    extra = random.Random(seed + 1)  # the resources above stay as they were without it
    terms.augment(first, extra)
    first += [*terms.code_systems(), *terms.value_sets(), *terms.blood_pressures(extra, 6, pats),
              *terms.onsets(extra, 4, pats, DATES[:3] + DATES[8:])]
    updates = []
    for resource in rng.sample([r for r in first if r["resourceType"] == "Observation"], 4):
        changed = {**resource, "status": "amended", "code": {"coding": [_coding(LOINC, CODES[0])]}}
        updates.append(changed)
    deletes = [("Patient", "pat-1"), ("Observation", "obs-2"), ("Organization", f"org-{orgs - 1}")]
    return Population(first, updates, deletes)
