"""Search queries generated from the population's own values (so that they hit) and from near misses
(a changed letter, the next day, a value just outside the precision range, another unit), plus tables of
chains, ``_has``, includes and sorts.

A new modifier or parameter type is one more entry in :data:`EXTRA_CASES` (or one more generator): the
oracle answers any query it can parse, and the test compares it with the server.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

from tests.search.oracle import population_terms as terms
from tests.search.oracle import values as v
from tests.search.oracle.engine import PREFIXES, Oracle
from tests.search.oracle.modifier_queries import composite_queries, modifier_queries, terminology_queries

Query = tuple[str, tuple[tuple[str, str], ...]]
#: the families of :func:`generated`
FAMILIES = ["string", "token", "reference", "date", "quantity", "lastUpdated", "chain-has", "extra", "composite",
            "terminology", "modifier"]
#: parameters stored as keyed digests: the server answers only default/``:exact`` strings, codes and
#: ``eq`` dates at year, month or day precision on them (README, "What the stored search index reveals")
BLIND = {("Patient", "name"), ("Patient", "family"), ("Patient", "given"), ("Patient", "identifier"),
         ("Patient", "birthdate"), ("Practitioner", "name"), ("Practitioner", "family")}
STRINGS = [("Organization", "name"), ("Observation", "value-string"), ("Patient", "name"), ("Patient", "family"),
           ("Patient", "given"), ("Practitioner", "name")]
TOKENS = [("Observation", "code"), ("Observation", "status"), ("Observation", "category"),
          ("Observation", "value-concept"), ("Condition", "code"), ("Condition", "clinical-status"),
          ("Encounter", "status"), ("Encounter", "class"), ("Patient", "gender"), ("Patient", "active"),
          ("Patient", "deceased"), ("Patient", "identifier"), ("Organization", "type"), ("Organization", "active"),
          ("Organization", "_tag"), ("Observation", "_id")]
REFERENCES = [("Observation", "subject"), ("Observation", "patient"), ("Observation", "encounter"),
              ("Observation", "performer"), ("Encounter", "service-provider"), ("Encounter", "practitioner"),
              ("Patient", "organization"), ("Patient", "general-practitioner"), ("Organization", "partof"),
              ("Condition", "patient"), ("RiskAssessment", "subject")]
DATES = [("Observation", "date"), ("Encounter", "date"), ("Condition", "onset-date"),
         ("Condition", "recorded-date"), ("Patient", "birthdate")]
QUERY_DATES = ["2021", "2021-03", "2021-03-15", "2021-03-16", "2020-12-31", "2020", "2022-01-01",
               "2021-03-15T10:30:00Z", "2021-03-15T08:30:00Z", "2021-03-15T10:30:45Z", "2021-03-16T04:30:00Z",
               "2021-03-16T04:30:00+00:00", "2021-03-15T10:30:00.123Z", "2021-03-15T12:30:00+02:00",
               "1970", "1970-03", "1970-03-15", "1985-11-02"]
QUANTITIES = [("Observation", "value-quantity"), ("Encounter", "length"), ("Condition", "onset-age")]
UCUM = "http://unitsofmeasure.org"

CHAINS: list[Query] = [
    ("Observation", (("subject:Patient.name", "muller"),)),
    ("Observation", (("subject.family", "angel"),)),
    ("Observation", (("subject:Patient.gender", "female"),)),
    ("Observation", (("subject:Patient.organization.name", "general"),)),
    ("Observation", (("subject:Patient.organization.partof.name", "hôpital"),)),
    ("Observation", (("encounter.status", "finished"), ("code", "8867-4"))),
    ("Observation", (("encounter:Encounter.service-provider.name:exact", "General Hospital"),)),
    ("Observation", (("performer:Practitioner.family", "smith"),)),
    ("Observation", (("subject:Patient.birthdate", "1970"),)),
    ("Observation", (("subject:Patient.general-practitioner.name", "jose"),)),
    ("Encounter", (("subject:Patient._has:Observation:subject:status", "amended"),)),
    ("Condition", (("patient.identifier", "MRN3"),)),
    ("Patient", (("_has:Observation:subject:code", "8867-4"),)),
    ("Patient", (("_has:Observation:patient:value-quantity", "gt70|http://unitsofmeasure.org|kg"),)),
    ("Patient", (("_has:Condition:subject:code", "http://snomed.info/sct|44054006"), ("gender", "male,female"))),
    ("Patient", (("_has:Observation:subject:code", "8867-4"), ("gender", "female"), ("name", "a"))),
    ("Patient", (("_has:Observation:subject:code", "8867-4"), ("gender:not", "male"))),
    ("Patient", (("gender:not", "female"), ("_has:Observation:subject:code", "8867-4"), ("gender", "female,male"))),
    ("Patient", (("_has:Encounter:subject:_has:Observation:encounter:status", "final"),)),
    ("Organization", (("_has:Patient:organization:gender", "female"),)),
    ("Organization", (("_has:Encounter:service-provider:date", "ge2021-03-15"),)),
    ("Practitioner", (("_has:Observation:performer:subject:Patient.gender", "male"),)),
    ("Practitioner", (("_has:Patient:general-practitioner:_has:Observation:subject:code", "2339-0"),)),
]
INCLUDES: list[Query] = [
    ("Observation", (("code", "8867-4"), ("_include", "Observation:subject"))),
    ("Observation", (("status", "final"), ("_include", "Observation:performer:Practitioner"),
                     ("_include", "Observation:encounter"))),
    ("Observation", (("code", "29463-7"), ("_include", "Observation:subject"),
                     ("_include:iterate", "Patient:organization"), ("_include:iterate", "Organization:partof"))),
    ("Patient", (("gender", "female"), ("_revinclude", "Observation:subject"))),
    ("Patient", (("_id", "pat-0,pat-3,pat-5"), ("_revinclude", "Encounter:subject"),
                 ("_revinclude:iterate", "Observation:encounter"))),
    ("Organization", (("_id", "org-0"), ("_revinclude:iterate", "Organization:partof"))),
    ("Encounter", (("status", "finished"), ("_include", "*"))),
    ("Organization", (("active", "true"), ("_revinclude", "Patient:organization"),
                      ("_include:iterate", "Patient:general-practitioner"))),
    ("Practitioner", (("_revinclude", "Observation:performer"), ("_include:iterate", "Observation:subject"))),
]
SORTS: list[Query] = [
    ("Observation", (("_sort", "date"),)), ("Observation", (("_sort", "-date"),)),
    ("Observation", (("_sort", "status,-date"),)), ("Observation", (("_sort", "-value-quantity,_id"),)),
    ("Observation", (("code", "29463-7"), ("_sort", "value-quantity"))),
    ("Observation", (("_sort", "code,-_lastUpdated"),)), ("Organization", (("_sort", "name"),)),
    ("Organization", (("_sort", "-name"),)), ("Encounter", (("_sort", "-date,status"),)),
    ("Condition", (("_sort", "onset-date,_id"),)), ("Observation", (("_sort", "subject,-_id"),)),
    ("Encounter", (("_sort", "length"),)), ("Patient", (("_sort", "gender,-_id"),)),
    ("RiskAssessment", (("_sort", "-probability"),)),
]
#: explicit cases any later modifier or parameter type can extend: (type, pairs)
EXTRA_CASES: list[Query] = [
    ("Organization", (("name", "Smith\\, Jones"),)),  # an escaped comma is part of the value
    ("Organization", (("name", "smith\\,"),)),
    ("Organization", (("name", "strasse"),)),  # ß case-folds to ss
    ("Organization", (("_profile", "http://example.org/StructureDefinition/org"),)),
    ("Organization", (("_profile", "http://example.org/StructureDefinition/or"),)),
    ("Observation", (("code", "8867-4,2339-0"), ("status", "final"))),
    ("Observation", (("date", "ge2021-03"), ("date", "lt2021-03-16"))),
    ("Observation", (("code:not", "8867-4,29463-7"),)),
    ("Observation", (("subject", "Patient/pat-1"),)),  # pat-1 is deleted: its observations still point at it
    ("Observation", (("_id", "obs-2"),)),  # deleted
    ("RiskAssessment", (("probability", "0.25"),)), ("RiskAssessment", (("probability", "0.2"),)),
    ("RiskAssessment", (("probability", "gt0.2"),)), ("RiskAssessment", (("probability", "ge0.25"),)),
    ("RiskAssessment", (("probability", "lt0.3"),)), ("RiskAssessment", (("probability", "le0.2"),)),
    ("RiskAssessment", (("probability", "ne0.2"),)), ("RiskAssessment", (("probability", "2.5e-1"),)),
    ("RiskAssessment", (("probability", "1"),)), ("RiskAssessment", (("probability", "0.35"),)),
    ("RiskAssessment", (("probability", "sa0.05"),)), ("RiskAssessment", (("probability", "eb0.2"),)),
    ("RiskAssessment", (("probability", "0.15"),)), ("RiskAssessment", (("probability", "ap0.25"),)),
    # number boundaries: the value itself against the search value exactly (gt/sa on an equal value, a
    # Range's ends), against the implicit range for eq/ne (1.0 is [0.95, 1.05), 1e0 is [0.5, 1.5))
    ("RiskAssessment", (("probability", "gt0.25"),)), ("RiskAssessment", (("probability", "sa0.3"),)),
    ("RiskAssessment", (("probability", "eb0.05"),)), ("RiskAssessment", (("probability", "le0.125"),)),
    ("RiskAssessment", (("probability", "ne0.25"),)), ("RiskAssessment", (("probability", "1.0"),)),
    ("RiskAssessment", (("probability", "1e0"),)), ("RiskAssessment", (("probability", "gt-1"),)),
    ("RiskAssessment", (("probability", "ge0.4"),)), ("RiskAssessment", (("probability", "gt0.4"),)),
    ("RiskAssessment", (("probability", "lt0.1"),)), ("RiskAssessment", (("probability", "0.1"),)),
    ("RiskAssessment", (("probability:missing", "false"),)),
    # :text is a string search: an unescaped | or an escaped comma is part of the value, a comma ORs values
    ("Condition", (("code:text", "sore throat | ph"),)), ("Condition", (("code:text", "TYPE 2,high blood"),)),
    ("Observation", (("performer:text", "dr anne marie angel\\, on"),)),
    ("Observation", (("performer:text", "dr anne marie angel, on"),)),
    ("Condition", (("code:text", "mellitus"),)),  # a word inside the display, not its start
    ("Observation", (("category:text", "resultats de"),)),  # a coding with only a display
    ("Observation", (("code:text", "body"), ("subject:text", "jose"))),
    ("Encounter", (("service-provider:text", "hopital g"),)),
    ("Observation", (("subject:Patient.general-practitioner:text", "dr. "),)),
    ("Patient", (("_has:Observation:subject:performer:text", "dr"),)),
]
#: searches the server must refuse with a 400 naming the parameter: a blind index cannot answer them, or
#: the stored terminology cannot (no such CodeSystem or ValueSet, a fragment, a filter it cannot expand, no
#: system to find the hierarchy in)
REFUSED: list[Query] = [
    ("Patient", (("name:contains", "ll"),)), ("Patient", (("birthdate", "ge1970"),)),
    ("Patient", (("identifier:text", "mrn"),)), ("Patient", (("birthdate", "1970-03-15T10:00:00Z"),)),
    ("Observation", (("code:below", f"{terms.DRAFT}|X"),)), ("Observation", (("code:above", "L8867-4"),)),
    ("Condition", (("code:below", f"{terms.SNOMED}|44054006"),)), ("Observation", (("code:in", f"{terms.VS}/draft"),)),
    ("Observation", (("code:not-in", f"{terms.VS}/none"),)),
]


#: where the server is known to differ from the spec, found by this suite and not fixed yet (see the
#: report in BENCHMARKS.md / the merge notes): a query of these classes may disagree without failing the
#: family test; ``test_known_deviations_still_show`` fails once a class no longer disagrees anywhere.
KNOWN_DEVIATIONS: dict[str, str] = {}


def deviation(query: Query) -> str | None:
    """The known deviation class a query belongs to, if any: none is known now (a new class is matched
    here from ``query``'s parameters, and listed in ``KNOWN_DEVIATIONS``)."""
    del query
    return None


def _values(oracle: Oracle, resource_type: str, code: str, kind: str) -> list[Any]:
    typed = [x for r in oracle.current(resource_type) for x in oracle._typed(kind, oracle.nodes(r, code))]
    return list(dict.fromkeys(typed))


def escape(text: str) -> str:
    """A value as a search parameter writes it (https://hl7.org/fhir/R4/search.html#escaping)."""
    for ch in "\\,|$":
        text = text.replace(ch, "\\" + ch)
    return text


def _near(text: str, rng: random.Random) -> str:
    i = rng.randrange(len(text))
    return text[:i] + ("x" if text[i] != "x" else "y") + text[i + 1 :]


def string_queries(oracle: Oracle, rng: random.Random) -> Iterator[Query]:
    for rtype, code in STRINGS:
        blind = (rtype, code) in BLIND
        for text in _values(oracle, rtype, code, "string"):
            cut = rng.randint(1, len(text))
            yield rtype, ((code, escape(text[:cut])),)
            yield rtype, ((code, escape(v.fold(text[:cut]).upper())),)
            yield rtype, ((code, escape(_near(text, rng))),)
            yield rtype, ((f"{code}:exact", escape(text)),)
            yield rtype, ((f"{code}:exact", escape(text.lower())),)
            if not blind and len(text) > 3:
                yield rtype, ((f"{code}:contains", escape(v.fold(text[1:-1]).upper())),)
        yield rtype, ((f"{code}:missing", rng.choice(["true", "false"])),)


def token_queries(oracle: Oracle, rng: random.Random) -> Iterator[Query]:
    for rtype, code in TOKENS:
        blind = (rtype, code) in BLIND
        found = _values(oracle, rtype, code, "token")
        for t in found:
            if t.code is not None:
                yield rtype, ((code, t.code),)
                yield rtype, ((code, f"{t.system or ''}|{t.code}"),)
                yield rtype, ((code, f"urn:other|{t.code}"),)
                if code != "_id":  # the server supports no modifier on _id (a 400 says so)
                    yield rtype, ((f"{code}:not", t.code),)
            if t.system:
                yield rtype, ((code, f"{t.system}|"),)
        for text in _texts(oracle, rtype, code, v.texts) if not blind else ():
            yield from _text_queries(rtype, code, text, rng)
        codes = [t.code for t in found if t.code]
        if len(codes) > 1:
            yield rtype, ((code, ",".join(rng.sample(codes, 2))),)
        yield rtype, ((code, "no-such-code"),)
        if code != "_id":
            yield rtype, ((f"{code}:missing", "true"),)
            yield rtype, ((f"{code}:missing", "false"),)


def _texts(oracle: Oracle, resource_type: str, code: str, read: Callable[[Any], list[str]]) -> list[str]:
    """The distinct texts ``read`` finds in the values of ``code`` (a token's texts, a reference's display)."""
    found = [t for r in oracle.current(resource_type) for n in oracle.nodes(r, code) for t in read(n)]
    return list(dict.fromkeys(found))


def _text_queries(rtype: str, code: str, text: str, rng: random.Random) -> Iterator[Query]:
    """``:text`` searches (a string search) on a text: a prefix, its folded form in capitals, a near miss, and
    its last word (found only where some text starts with it)."""
    yield rtype, ((f"{code}:text", escape(text[: rng.randint(1, len(text))].lower())),)
    yield rtype, ((f"{code}:text", escape(v.fold(text).upper())),)
    yield rtype, ((f"{code}:text", escape(_near(text, rng))),)
    yield rtype, ((f"{code}:text", escape(text.split()[-1])),)


def reference_queries(oracle: Oracle, rng: random.Random) -> Iterator[Query]:
    for rtype, code in REFERENCES:
        for text in _texts(oracle, rtype, code, v.displays):
            yield from _text_queries(rtype, code, text, rng)
        for ref in _values(oracle, rtype, code, "reference"):
            yield rtype, ((code, f"{ref.type}/{ref.id}"),)
            if rng.random() < 0.5:
                yield rtype, ((code, str(ref.id)),)
            if rng.random() < 0.3:
                yield rtype, ((code, f"{oracle.base}{ref.type}/{ref.id}"),)
            yield rtype, ((code, f"{ref.type}/{ref.id}9"),)
        yield rtype, ((f"{code}:missing", "true"),)
        yield rtype, ((f"{code}:missing", "false"),)


def date_queries(oracle: Oracle, rng: random.Random) -> Iterator[Query]:
    for rtype, code in DATES:
        if (rtype, code) in BLIND:
            for text in ("1970", "1970-03", "1970-03-15", "1970-04", "1985-11-02", "1985"):
                yield rtype, ((code, text),)
            continue
        for text in QUERY_DATES[:14]:
            for prefix in rng.sample(PREFIXES, 4):
                yield rtype, ((code, f"{prefix}{text}"),)
        yield rtype, ((f"{code}:missing", "true"),)


def quantity_queries(oracle: Oracle, rng: random.Random) -> Iterator[Query]:
    for rtype, code in QUANTITIES:
        for amount in _values(oracle, rtype, code, "quantity"):
            point = amount.value.point
            if point is None:
                continue
            for prefix in rng.sample(PREFIXES, 3):
                yield rtype, ((code, f"{prefix}{point}|{UCUM}|{amount.code}"),)
            yield rtype, ((code, f"{point}||{amount.code}"),)
            yield rtype, ((code, f"{point}"),)
            yield rtype, ((code, f"{point * 2}|{UCUM}|{amount.code}"),)
        for text in ("70.5|http://unitsofmeasure.org|kg", "70500|http://unitsofmeasure.org|g",
                     "0.0705|http://unitsofmeasure.org|kg", "lt71000|http://unitsofmeasure.org|g",
                     "950|http://unitsofmeasure.org|mg/L", "0.95|http://unitsofmeasure.org|g/L",
                     "gt36.9|http://unitsofmeasure.org|Cel", "37|http://unitsofmeasure.org|Cel",
                     "ge1|http://unitsofmeasure.org|h", "0.5|http://unitsofmeasure.org|h",
                     "1800|http://unitsofmeasure.org|s", "le52.5|http://unitsofmeasure.org|a",
                     "gt70.5|http://unitsofmeasure.org|kg", "sa70500|http://unitsofmeasure.org|g",
                     "ge0.95|http://unitsofmeasure.org|g/L", "gt310.15|http://unitsofmeasure.org|K",
                     "gt-5|http://unitsofmeasure.org|Cel", "eb0.5|http://unitsofmeasure.org|h"):
            yield rtype, ((code, text),)


def last_updated_queries(oracle: Oracle) -> Iterator[Query]:
    stamps = sorted({r["meta"]["lastUpdated"] for r in oracle.current()})
    for stamp in stamps[:: max(1, len(stamps) // 4)]:
        for prefix in ("eq", "ge", "gt", "le", "lt", "sa", "eb", "ne"):
            yield "Observation", (("_lastUpdated", prefix + stamp),)
            yield "Patient", (("_lastUpdated", prefix + stamp[:19] + "Z"),)
            yield "Observation", (("_lastUpdated", prefix + stamp[:10]),)


def generated(oracle: Oracle, seed: int) -> dict[str, list[Query]]:
    """Every generated query, by family, deduplicated and in a stable order."""
    rng = random.Random(seed)
    families = {
        "string": string_queries(oracle, rng), "token": token_queries(oracle, rng),
        "reference": reference_queries(oracle, rng), "date": date_queries(oracle, rng),
        "quantity": quantity_queries(oracle, rng), "lastUpdated": last_updated_queries(oracle),
        "chain-has": iter(CHAINS), "extra": iter(EXTRA_CASES), "composite": composite_queries(oracle, rng),
        "terminology": terminology_queries(oracle, rng), "modifier": modifier_queries(oracle, rng),
    }
    return {name: list(dict.fromkeys(queries)) for name, queries in families.items()}
