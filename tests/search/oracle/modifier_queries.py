"""Queries for composite parameters and for the modifiers that need stored terminology, typed identifiers or
references carrying identifiers: drawn from the population's own values (hits) and changed just enough to
miss (another code with the same value, the diastolic value with the systolic code, a sibling URL, a wrong
identifier type). The oracle answers them; the test compares the server.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator
from typing import Any

from tests.search.oracle import population_terms as terms
from tests.search.oracle import values as v
from tests.search.oracle.engine import Oracle

Query = tuple[str, tuple[tuple[str, str], ...]]
COMPOSITES = ["code-value-quantity", "component-code-value-quantity", "combo-code-value-quantity",
              "code-value-concept", "component-code-value-concept", "combo-code-value-concept", "code-value-string",
              "code-value-date"]
#: values tried per composite parameter, and per parameter for the other modifiers, at most (the suite stays
#: fast: it runs on three engines)
PER_COMPOSITE = 16
PER_PARAM = 6
COMPOSITE_DATES = ["2021", "2021-03", "2021-03-15", "2020-12-31", "2022-01-01", "2021-06"]
PANEL_CODES = ["all", "vitals", "lab", "social", "L8867-4", "L8310-5", "L29463-7", "L2339-0", "L72166-2", "unused",
               "not-a-code"]
VALUE_SETS = [f"{terms.VS}/vitals", f"{terms.VS}/vitals/heart", f"{terms.VS}/vitals-and-lab", f"{terms.VS}/not-vitals",
              f"{terms.VS}/weight-glucose", f"{terms.VS}/legacy/", f"{terms.VS}/loinc", f"{terms.VS}/loinc/heart",
              f"{terms.VS}/weight-glucose/not-loinc"]
URIS_BELOW = [terms.VS, f"{terms.VS}/", f"{terms.VS}/vitals", f"{terms.VS}/legacy", "http://example.org/fhir",
              "http://example.org/fh", f"{terms.VS}/vitals/heart/more", terms.CONDITIONS_VS, "urn:oid:2.16.840.1"]
URIS_ABOVE = [f"{terms.VS}/vitals/heart/_history/2", f"{terms.VS}/legacy/v2", f"{terms.VS}/vitals-and-lab/x",
              f"{terms.VS}/vitals", f"{terms.VS}/vital", terms.CONDITIONS_VS, f"{terms.CONDITIONS_VS}.5"]
#: (type, reference parameter, the target types to try as ``:[type]``)
TYPED_REFERENCES = [("Observation", "subject", ("Patient", "Group")), ("Observation", "performer", ("Practitioner",
                    "Organization")), ("Encounter", "subject", ("Patient", "Group")),
                    ("Patient", "general-practitioner", ("Practitioner", "Organization"))]
IDENTIFIED_REFERENCES = [("Observation", "subject"), ("Observation", "patient"), ("Observation", "performer"),
                         ("Encounter", "subject"), ("Encounter", "patient")]
NOT_TOKENS = [("Observation", "code"), ("Observation", "category"), ("Patient", "gender"), ("Patient", "identifier"),
              ("Condition", "clinical-status")]
MISSING = [("Observation", "value-quantity"), ("Encounter", "length"), ("RiskAssessment", "probability"),
           ("ValueSet", "url"), ("Organization", "_profile"), ("Observation", "value-date"),
           ("Observation", "value-string"), ("Observation", "identifier"), ("Observation", "value-concept"),
           ("Observation", "component-code"), ("Observation", "combo-code")]


def _escape(text: str) -> str:
    for ch in "\\,|$":
        text = text.replace(ch, "\\" + ch)
    return text


def _token_texts(t: v.Token) -> list[str]:
    assert t.code is not None
    return [f"{_escape(t.system or '')}|{_escape(t.code)}", _escape(t.code)]


def _component_texts(kind: str, nodes: list[Any], rng: random.Random) -> list[str]:
    """Search values for one component: the element's own value(s), written as a search would, and misses."""
    typed = Oracle._typed(kind, nodes)
    if kind == "token":
        coded = [t for t in typed if t.code is not None][:1]
        return [x for t in coded for x in _token_texts(t)] + [f"urn:other|{_escape(t.code or '')}" for t in coded]
    if kind == "quantity":
        points = [(a.value.point, a) for a in typed if a.value.point is not None]
        return [text for p, a in points for text in (f"{p}|{a.system or ''}|{a.code or ''}",
                                                     f"{rng.choice(['gt', 'lt', 'ge', 'le'])}{p}", f"{p * 2}")]
    if kind == "string":
        text = typed[0]
        return [_escape(text[: rng.randint(1, len(text))].upper()), _escape(text + "x")]
    assert kind == "date", kind
    return [f"{p}{d}" for d in rng.sample(COMPOSITE_DATES, 2) for p in rng.sample(["eq", "ge", "lt", "sa", "eb"], 2)]


def composite_queries(oracle: Oracle, rng: random.Random) -> Iterator[Query]:
    """Each composite's values as the population has them, and crossed between elements of one resource."""
    for code in COMPOSITES:
        sp = oracle.param("Observation", code)
        assert sp is not None
        kinds = [c.type.value for c in sp.components]
        seen: set[str] = set()
        crossed: set[str] = set()
        for r in oracle.current("Observation"):
            elements = oracle.elements(r, code)
            texts = [(_component_texts(kinds[0], e[0], rng), _component_texts(kinds[1], e[1], rng)) for e in elements]
            texts = [(first, second) for first, second in texts if first and second]
            for first, second in texts:
                seen.update(f"{a}${b}" for a in first for b in rng.sample(second, min(2, len(second))))
            if len(texts) > 1:  # the first component of one element, the second of another
                (a, _), (_, b) = rng.sample(texts, 2)
                crossed.add(f"{a[0]}${b[0]}")
        values = rng.sample(sorted(seen), min(PER_COMPOSITE, len(seen))) + sorted(crossed)[:PER_COMPOSITE // 3]
        for value in values:
            yield "Observation", ((code, value),)
        picks = rng.sample(sorted(seen), min(3, len(seen)))
        yield "Observation", ((code, ",".join(picks)),)
        yield "Observation", ((f"{code}:missing", "true"),)
        yield "Observation", ((f"{code}:missing", "false"),)


def terminology_queries(oracle: Oracle, rng: random.Random) -> Iterator[Query]:
    """``:below`` / ``:above`` over the stored hierarchy, ``:in`` / ``:not-in`` over the stored ValueSets, and
    the uri ``:below`` / ``:above`` over their URLs."""
    for code in PANEL_CODES:
        for modifier in ("below", "above"):
            yield "Observation", ((f"code:{modifier}", f"{terms.PANELS}|{code}"),)
        yield "Observation", (("combo-code:below", f"{terms.PANELS}|{code}"), ("status", "final"))
    yield "Observation", (("code:below", f"{terms.PANELS}|lab,{terms.PANELS}|social"),)
    yield "Observation", (("code:above", f"{terms.PANELS}|L8310-5"), ("code:below", f"{terms.PANELS}|vitals"))
    for url in VALUE_SETS:
        for modifier in ("in", "not-in"):
            yield "Observation", ((f"code:{modifier}", url),)
        yield "Observation", (("code:in", url), ("status", "final,amended"))
    yield "Observation", (("code:in", "ValueSet/vitals"),)  # a relative reference to the ValueSet
    yield "Observation", (("code:in", f"{VALUE_SETS[0]},{VALUE_SETS[4]}"),)
    yield "Observation", (("code:in", VALUE_SETS[2]), ("code:not-in", VALUE_SETS[0]))
    for modifier in ("in", "not-in"):
        yield "Condition", ((f"code:{modifier}", terms.CONDITIONS_VS),)
    for url in URIS_BELOW:
        yield "ValueSet", (("url:below", url),)
        yield "ValueSet", (("url", url),)
    for url in URIS_ABOVE:
        yield "ValueSet", (("url:above", url),)
    yield "CodeSystem", (("url:below", "http://example.org/fhir/CodeSystem"),)
    yield "CodeSystem", (("url:above", f"{terms.PANELS}/v/2"),)
    yield "CodeSystem", (("url:above", f"{terms.PANELS}-draft/2"),)
    yield "Organization", (("_profile:below", "http://example.org/StructureDefinition"),)
    yield "Organization", (("_profile:above", "http://example.org/StructureDefinition/org/2"),)
    yield "Organization", (("_profile:above", "http://example.org/StructureDefinition/organization"),)


def _some(items: Iterable[Any], rng: random.Random, n: int = PER_PARAM) -> list[Any]:
    found = sorted(set(items), key=str)
    return rng.sample(found, min(n, len(found)))


def _identifier_queries(oracle: Oracle, rng: random.Random) -> Iterator[Query]:
    typed = [(c["system"], c["code"], _escape(i["value"])) for r in oracle.current("Patient")
             for i in r["identifier"] for c in i.get("type", {}).get("coding", [])]
    for system, kind, value in _some(typed, rng, 2 * PER_PARAM):
        yield "Patient", (("identifier:of-type", f"{system}|{kind}|{value}"),)
        yield "Patient", (("identifier:of-type", rng.choice([f"{system}|{kind}|{value}9", f"{system}|XX|{value}",
                                                             f"urn:other|{kind}|{value}"])),)
    crossed = [(c["system"], c["code"], _escape(other["value"])) for r in oracle.current("Patient")
               for i in r["identifier"] for other in r["identifier"] if other is not i
               for c in i.get("type", {}).get("coding", [])]
    for system, kind, value in _some(crossed, rng, 3):  # one identifier's type, another's value: a miss
        yield "Patient", (("identifier:of-type", f"{system}|{kind}|{value}"),)
    for rtype, code in IDENTIFIED_REFERENCES:
        found = [(n["identifier"]["system"], _escape(n["identifier"]["value"])) for r in oracle.current(rtype)
                 for n in oracle.nodes(r, code) if isinstance(n, dict) and "identifier" in n]
        for system, value in _some(found, rng):
            yield rtype, ((f"{code}:identifier", f"{system}|{value}"),)
            yield rtype, ((f"{code}:identifier", rng.choice([value, f"urn:other|{value}", f"{system}|"])),)


def modifier_queries(oracle: Oracle, rng: random.Random) -> Iterator[Query]:
    """``:of-type``, ``:identifier``, ``:[type]``, ``:not`` with systems and lists, ``:missing`` per type."""
    yield from _identifier_queries(oracle, rng)
    for rtype, code, types in TYPED_REFERENCES:
        for ref in _some((ref for r in oracle.current(rtype) for ref in oracle.references(r, code)), rng):
            for target in types:
                yield rtype, ((f"{code}:{target}", str(ref.id)),)
            yield rtype, ((f"{code}:{ref.type}", f"{ref.type}/{ref.id}"),)
    for rtype, code in NOT_TOKENS:
        found = sorted({t for r in oracle.current(rtype) for t in oracle._typed("token", oracle.nodes(r, code))
                        if t.code is not None}, key=str)
        for t in rng.sample(found, min(3, len(found))):
            yield rtype, ((f"{code}:not", f"{t.system or ''}|{_escape(t.code or '')}"),)
            if t.system:
                yield rtype, ((f"{code}:not", f"{t.system}|"),)
        codes = [_escape(t.code or "") for t in found]
        yield rtype, ((f"{code}:not", ",".join(rng.sample(codes, min(2, len(codes))))),)
    for rtype, code in MISSING:
        for flag in ("true", "false"):
            yield rtype, ((f"{code}:missing", flag),)
