"""The oracle's uri and terminology rules against the spec's worked examples and the population's own
CodeSystem and ValueSets, worked out by hand (https://hl7.org/fhir/R4/search.html#uri,
https://hl7.org/fhir/R4/valueset.html#compose)."""

from __future__ import annotations

import pytest

from tests.search.oracle import population_terms as terms
from tests.search.oracle.matching import match_uri
from tests.search.oracle.terminology import Terms

ACME = "http://acme.org/fhir/ValueSet/123"


@pytest.mark.parametrize(("stored", "query", "modifier", "hit"), [
    (ACME, ACME, None, True), (ACME, "http://acme.org/fhir/", "below", True),
    (ACME, "http://acme.org/fhir/ValueSet/123/_history/5", "above", True),
    ("http://acme.org/fhir/ValueSetOther", "http://acme.org/fhir/ValueSet", "below", False),
    ("http://acme.org/fhir/", ACME, "above", True), (ACME, "http://acme.org/fhir/ValueSet/12", "above", False),
    ("urn:oid:1.2.3.4", "urn:oid:1.2.3", "below", False), ("urn:oid:1.2.3", "urn:oid:1.2.3", "above", True),
    (ACME, "http://other.org/fhir/", "below", False), (ACME, "http://acme.org/fhir/", None, False),
])  # fmt: skip
def test_uri_modifiers_follow_path_segments(stored: str, query: str, modifier: str | None, hit: bool) -> None:
    assert match_uri([stored], query, modifier) is hit


@pytest.fixture(scope="module")
def stored() -> Terms:
    return Terms([*terms.code_systems(), *terms.value_sets()])


def test_the_hierarchy_joins_nesting_with_parent_and_child_properties(stored: Terms) -> None:
    assert stored.descendants(terms.PANELS, "vitals") == {"vitals", "L8867-4", "L8310-5", "L29463-7"}
    assert stored.descendants(terms.PANELS, "lab") == {"lab", "L2339-0", "L8310-5"}
    assert stored.ancestors(terms.PANELS, "L8310-5") == {"L8310-5", "vitals", "lab", "all"}
    assert stored.ancestors(terms.PANELS, "L72166-2") == {"L72166-2", "social", "all"}
    assert stored.descendants(terms.PANELS, "unused") == {"unused"}


def _codes(found: set[tuple[str, str | None]]) -> set[str | None]:
    return {code for _, code in found}


def test_value_sets_expand_filters_excludes_imports_and_stored_expansions(stored: Terms) -> None:
    assert _codes(stored.expand(f"{terms.VS}/vitals")) == {"vitals", "L8867-4", "L8310-5", "L29463-7"}
    assert _codes(stored.expand(f"{terms.VS}/vitals-and-lab")) == {"vitals", "lab", "L8867-4", "L8310-5",
                                                                    "L29463-7", "L2339-0"}
    assert _codes(stored.expand(f"{terms.VS}/not-vitals")) == {"all", "lab", "L2339-0", "social", "L72166-2",
                                                                "unused"}
    assert stored.expand(f"{terms.VS}/weight-glucose") == {(terms.LOINC, "8867-4"), (terms.PANELS, "L8867-4"),
                                                           (terms.LOINC, "29463-7"), (terms.LOINC, "2339-0")}
    assert _codes(stored.expand(f"{terms.VS}/legacy/")) == {"L8867-4", "L2339-0", "lab"}
    assert stored.expand("ValueSet/conditions") == {(terms.SNOMED, "44054006"), (terms.SNOMED, "38341003")}
    assert stored.expand(f"{terms.VS}/loinc") == {(terms.LOINC, None)}  # no LOINC CodeSystem stored: all of it
    assert stored.expand(f"{terms.VS}/loinc/heart") == {(terms.LOINC, "8867-4")}
    assert stored.expand(f"{terms.VS}/weight-glucose/not-loinc") == {(terms.PANELS, "L8867-4")}
    assert stored.contains(stored.expand(f"{terms.VS}/loinc"), terms.LOINC, "any-code")
