"""The part of the oracle population the modifiers and composites need, drawn from its own random stream so
that the rest of the population stays as it was:

- a CodeSystem with a hierarchy (nested concepts, ``parent`` and ``child`` properties, a code with two
  parents) and ValueSets over it and over LOINC and SNOMED (concept lists, ``is-a`` / ``descendent-of`` /
  ``is-not-a`` / ``in`` / ``=`` filters, excludes, an imported ValueSet, a stored expansion only), for
  ``:above``, ``:below``, ``:in`` and ``:not-in``; their URLs nest, for the uri ``:above`` / ``:below``;
- typed identifiers on Patients (``:of-type``) and references that carry an identifier, with or without a
  literal reference (``:identifier``);
- blood pressure Observations with components (one without a value), and Observations with a date value,
  for the composite parameters (https://hl7.org/fhir/R4/search.html#composite).
"""

from __future__ import annotations

import random
from typing import Any

LOINC = "http://loinc.org"
SNOMED = "http://snomed.info/sct"
UCUM = "http://unitsofmeasure.org"
MRN = "http://hospital.example/mrn"
V2_0203 = "http://terminology.hl7.org/CodeSystem/v2-0203"
NPI = "http://hl7.org/fhir/sid/us-npi"
PANELS = "http://example.org/fhir/CodeSystem/panels"
DRAFT = "http://example.org/fhir/CodeSystem/panels-draft"
VS = "http://example.org/fhir/ValueSet"
CONDITIONS_VS = "urn:oid:2.16.840.1.113883.3.9999.1"
BP, SYSTOLIC, DIASTOLIC, ARM, HEART_RATE = "85354-9", "8480-6", "8462-4", "41904-4", "8867-4"
ONSET = "11368-8"
ARMS = [("368209003", "Right arm"), ("368208006", "Left arm")]


def _parent(code: str) -> dict[str, str]:
    return {"code": "parent", "valueCode": code}


def code_systems() -> list[dict[str, Any]]:
    """``all`` > ``vitals`` > L8867-4, L8310-5 (nested), L29463-7 (``parent``); ``all`` > ``lab`` >
    L2339-0 (``child`` of lab) and L8310-5 (``parent``: two parents); ``all`` > ``social`` > L72166-2."""
    concepts = [
        {"code": "all", "concept": [
            {"code": "vitals", "concept": [{"code": "L8867-4"}, {"code": "L8310-5", "property": [_parent("lab")]}]},
            {"code": "lab", "property": [{"code": "child", "valueCode": "L2339-0"}]}]},
        {"code": "L29463-7", "property": [_parent("vitals")]},
        {"code": "social", "property": [_parent("all")]},
        {"code": "L72166-2", "property": [_parent("social")]},
        {"code": "L2339-0"},
        {"code": "unused"},
    ]  # fmt: skip
    complete = {"resourceType": "CodeSystem", "id": "panels", "url": PANELS, "status": "active",
                "content": "complete", "hierarchyMeaning": "is-a", "concept": concepts}
    draft = {"resourceType": "CodeSystem", "id": "panels-draft", "url": DRAFT, "status": "draft",
             "content": "fragment", "concept": [{"code": "X"}]}
    return [complete, draft]


def _filter(op: str, value: str) -> dict[str, str]:
    return {"property": "concept", "op": op, "value": value}


def _codes(system: str, *codes: str) -> dict[str, Any]:
    return {"system": system, "concept": [{"code": c} for c in codes]}


def value_sets() -> list[dict[str, Any]]:
    composes: dict[str, tuple[str, dict[str, Any]]] = {
        "vitals": (f"{VS}/vitals", {"include": [{"system": PANELS, "filter": [_filter("is-a", "vitals")]}]}),
        "heart": (f"{VS}/vitals/heart", {"include": [_codes(LOINC, HEART_RATE), _codes(PANELS, "L8867-4")]}),
        "vitals-and-lab": (f"{VS}/vitals-and-lab", {
            "include": [{"system": PANELS, "filter": [_filter("descendent-of", "all")]}],
            "exclude": [_codes(PANELS, "social", "L72166-2")]}),
        "not-vitals": (f"{VS}/not-vitals", {
            "include": [{"system": PANELS, "filter": [_filter("is-not-a", "vitals")]}]}),
        "weight-glucose": (f"{VS}/weight-glucose", {
            "include": [{"valueSet": [f"{VS}/vitals/heart"]}, _codes(LOINC, "29463-7", "2339-0")]}),
        "selected": (f"{VS}/legacy/", {"include": [
            {"system": PANELS, "filter": [_filter("in", "L8867-4,L2339-0")]},
            {"system": PANELS, "filter": [_filter("=", "lab")]}]}),
        # all of LOINC, whose CodeSystem is not stored: every code of the system
        "loinc": (f"{VS}/loinc", {"include": [{"system": LOINC}]}),
        "loinc-heart": (f"{VS}/loinc/heart", {"include": [{"valueSet": [f"{VS}/loinc", f"{VS}/vitals/heart"]}]}),
        "weight-glucose-not-loinc": (f"{VS}/weight-glucose/not-loinc", {
            "include": [{"valueSet": [f"{VS}/weight-glucose"]}], "exclude": [{"system": LOINC}]}),
        "draft": (f"{VS}/draft", {"include": [{"system": PANELS, "filter": [
            {"property": "status", "op": "=", "value": "retired"}]}]}),
    }  # fmt: skip
    out = [{"resourceType": "ValueSet", "id": vid, "url": url, "status": "active", "compose": compose}
           for vid, (url, compose) in composes.items()]
    nested = {"abstract": True, "display": "cardiovascular", "contains": [{"system": SNOMED, "code": "38341003"}]}
    out.append({"resourceType": "ValueSet", "id": "conditions", "url": CONDITIONS_VS, "status": "active",
                "expansion": {"timestamp": "2021-03-15T10:30:00Z",
                              "contains": [{"system": SNOMED, "code": "44054006"}, nested]}})
    return out


def _loinc(observation: dict[str, Any]) -> str | None:
    found = [c["code"] for c in observation["code"].get("coding", []) if c.get("system") == LOINC]
    return found[0] if found else None


def augment(resources: list[dict[str, Any]], rng: random.Random) -> None:
    """Typed identifiers on Patients, identifiers on references, panel codes on Observations (in place)."""
    mrns = {f"Patient/{r['id']}": r["identifier"][0] for r in resources if r["resourceType"] == "Patient"}
    for r in resources:
        if r["resourceType"] == "Patient":
            if rng.random() < 0.6:
                r["identifier"][0]["type"] = {"coding": [{"system": V2_0203, "code": "MR"}]}
            if rng.random() < 0.4:
                r["identifier"].append({"type": {"coding": [{"system": V2_0203, "code": "DL"},
                                                            {"system": "urn:local:id-types", "code": "licence"}]},
                                        "system": "urn:dl:ca", "value": f"D{rng.randrange(4)}"})
        elif r["resourceType"] in ("Observation", "Encounter"):
            subject = r.get("subject")
            if subject and rng.random() < 0.35:
                mrn = mrns.get(subject["reference"], {"system": MRN, "value": "MRN-gone"})
                subject["identifier"] = {"system": mrn["system"], "value": mrn["value"]}
        if r["resourceType"] == "Observation":
            if rng.random() < 0.25:
                r.setdefault("performer", []).append({"identifier": {"system": NPI, "value": f"NPI{rng.randrange(3)}"}})
            code = _loinc(r)
            if code is not None and rng.random() < 0.55:
                panel = "vitals" if code in ("8867-4", "8310-5") and rng.random() < 0.25 else f"L{code}"
                r["code"]["coding"].append({"system": PANELS, "code": panel})


def _quantity(value: float, unit: str) -> dict[str, Any]:
    return {"value": value, "unit": unit, "system": UCUM, "code": unit}


def _component(code: str, value: dict[str, Any]) -> dict[str, Any]:
    return {"code": {"coding": [{"system": LOINC, "code": code}]}, **value}


def blood_pressures(rng: random.Random, n: int, pats: int) -> list[dict[str, Any]]:
    """Systolic and diastolic components (values in both ranges on purpose), a heart rate or an arm
    component on some, a component without a value on one."""
    out = []
    for i in range(n):
        components = [_component(SYSTOLIC, {"valueQuantity": _quantity(rng.choice([110, 120, 135, 150]), "mm[Hg]")}),
                      _component(DIASTOLIC, {"valueQuantity": _quantity(rng.choice([70, 80, 90, 110]), "mm[Hg]")})]
        if rng.random() < 0.5:
            components.append(_component(HEART_RATE, {"valueQuantity": _quantity(rng.choice([72, 88.5]), "/min")}))
        if rng.random() < 0.5:
            arm = rng.choice(ARMS)
            concept = {"coding": [{"system": SNOMED, "code": arm[0], "display": arm[1]}]}
            components.append(_component(ARM, {"valueCodeableConcept": concept}))
        if i == 0:
            components.append(_component("8478-0", {"dataAbsentReason": {"text": "not measured"}}))
        out.append({"resourceType": "Observation", "id": f"obs-bp-{i}", "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": BP}]},
                    "subject": {"reference": f"Patient/pat-{rng.randrange(pats)}"}, "component": components})
    return out


def onsets(rng: random.Random, n: int, pats: int, dates: list[str]) -> list[dict[str, Any]]:
    """Observations whose value is a dateTime or a Period (``code-value-date``)."""
    out = []
    for i in range(n):
        start, end = sorted(rng.sample(dates, 2))
        value: dict[str, Any] = rng.choice([{"valueDateTime": start}, {"valuePeriod": {"start": start, "end": end}}])
        out.append({"resourceType": "Observation", "id": f"obs-onset-{i}", "status": "final",
                    "code": {"coding": [{"system": LOINC, "code": ONSET}]},
                    "subject": {"reference": f"Patient/pat-{rng.randrange(pats)}"}, **value})
    return out
