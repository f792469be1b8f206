"""CodeSystem hierarchies and ValueSet expansion from stored resources (``ehr.search.terminology``)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehr.search.terminology import CannotExpand, expand, hierarchy, subsumption

CS = "http://example.org/cs"


class Stored:
    def __init__(self, *resources: dict[str, Any]) -> None:
        self.by_url = {(r["resourceType"], r["url"]): r for r in resources}

    def code_system(self, url: str) -> Mapping[str, Any] | None:
        return self.by_url.get(("CodeSystem", url))

    def value_set(self, url: str) -> Mapping[str, Any] | None:
        return self.by_url.get(("ValueSet", url))


def _code_system(concepts: list[dict[str, Any]], content: str = "complete") -> dict[str, Any]:
    return {"resourceType": "CodeSystem", "url": CS, "content": content, "concept": concepts}


def _value_set(url: str, compose: dict[str, Any]) -> dict[str, Any]:
    return {"resourceType": "ValueSet", "url": url, "compose": compose}


TREE = _code_system([
    {"code": "A", "concept": [{"code": "A1", "concept": [{"code": "A1a"}]}, {"code": "A2"}]},
    {"code": "B", "property": [{"code": "parent", "valueCode": "A2"}]},
    {"code": "C", "property": [{"code": "child", "valueCode": "B"}]},
])


def test_nesting_and_parent_child_properties_make_one_hierarchy() -> None:
    found = hierarchy(TREE)
    assert found.codes == ["A", "A1", "A1a", "A2", "B", "C"]
    assert found.closure("A", "below") == ["A", "A1", "A2", "A1a", "B"]
    assert found.closure("B", "above") == ["B", "A2", "C", "A"]
    assert subsumption(Stored(TREE), "code:below", CS, "A1", "below") == [(CS, "A1"), (CS, "A1a")]


def test_expansion_of_concepts_filters_exclusions_and_nested_value_sets() -> None:
    a = _value_set("http://vs/a", {"include": [{"system": CS, "filter": [{"property": "concept", "op": "is-a",
                                                                          "value": "A"}]}],
                                   "exclude": [{"system": CS, "concept": [{"code": "A1"}]}]})
    b = _value_set("http://vs/b", {"include": [{"valueSet": ["http://vs/a"], "system": CS,
                                                "filter": [{"property": "concept", "op": "descendent-of",
                                                            "value": "A2"}]},
                                               {"system": "http://other", "concept": [{"code": "x"}]}]})
    c = _value_set("http://vs/c", {"include": [{"system": CS, "filter": [{"property": "concept", "op": "is-not-a",
                                                                          "value": "A"}]}]})
    stored = Stored(TREE, a, b, c)
    assert expand(stored, "code:in", "http://vs/a") == [(CS, "A"), (CS, "A2"), (CS, "A1a"), (CS, "B")]
    assert expand(stored, "code:in", "http://vs/b|1.0") == [(CS, "B"), ("http://other", "x")]
    assert expand(stored, "code:in", "http://vs/c") == [(CS, "C")]


def test_a_whole_code_system_not_stored_here_is_every_code_of_it() -> None:
    """R4's observation-codes ValueSet is all of LOINC: searched as ``http://loinc.org|`` (any code)."""
    loinc = "http://loinc.org"
    whole = _value_set("http://vs/loinc", {"include": [{"system": loinc}]})
    heart = _value_set("http://vs/heart", {"include": [{"system": loinc, "concept": [{"code": "8867-4"}]},
                                                       {"system": CS, "concept": [{"code": "A"}]}]})
    both = _value_set("http://vs/both", {"include": [{"valueSet": ["http://vs/loinc", "http://vs/heart"]}]})
    not_loinc = _value_set("http://vs/not-loinc", {"include": [{"valueSet": ["http://vs/heart"]}],
                                                   "exclude": [{"system": loinc}]})
    partial = _value_set("http://vs/partial", {"include": [{"system": CS}]})
    stored = Stored(whole, heart, both, not_loinc, partial, _code_system([], "fragment"))
    assert expand(stored, "code:in", "http://vs/loinc") == [(loinc, None)]
    assert expand(stored, "code:in", "http://vs/both") == [(loinc, "8867-4")]
    assert expand(stored, "code:in", "http://vs/not-loinc") == [(CS, "A")]
    assert expand(stored, "code:in", "http://vs/partial") == [(CS, None)]  # a fragment: not every code is known
    complete = _value_set("http://vs/tree", {"include": [{"system": CS}]})
    assert expand(Stored(TREE, complete), "code:in", "http://vs/tree") == [(CS, c) for c in hierarchy(TREE).codes]


def test_a_stored_expansion_is_used_when_there_is_no_compose() -> None:
    vs = {"resourceType": "ValueSet", "url": "http://vs/e", "expansion": {"contains": [
        {"system": CS, "code": "A", "contains": [{"system": CS, "code": "A1"}]}]}}
    assert expand(Stored(vs), "code:in", "http://vs/e") == [(CS, "A"), (CS, "A1")]


@pytest.mark.parametrize(("stored", "url", "says"), [
    (Stored(), "http://vs/none", "no ValueSet with url http://vs/none"),
    (Stored(_value_set("http://vs/x", {"include": [{"system": "http://snomed.info/sct", "filter": [
        {"property": "concept", "op": "is-a", "value": "404684003"}]}]})), "http://vs/x",
     "no CodeSystem with that url is stored"),
    (Stored(_code_system([], "not-present"), _value_set("http://vs/x", {"include": [{"system": CS, "filter": [
        {"property": "concept", "op": "is-a", "value": "A"}]}]})), "http://vs/x", "has content 'not-present'"),
    (Stored(_value_set("http://vs/x", {"include": [{"system": "http://loinc.org"}],
                                       "exclude": [{"system": "http://loinc.org", "concept": [{"code": "1-8"}]}]})),
     "http://vs/x", "excludes codes from the whole of code system http://loinc.org"),
    (Stored(TREE, _value_set("http://vs/x", {"include": [{"system": CS, "filter": [
        {"property": "status", "op": "=", "value": "x"}]}]})), "http://vs/x", "filter on property 'status'"),
    (Stored(TREE, _value_set("http://vs/x", {"include": [{"system": CS, "filter": [
        {"property": "concept", "op": "regex", "value": "A.*"}]}]})), "http://vs/x", "operator 'regex'"),
    (Stored(_value_set("http://vs/x", {"include": [{"valueSet": ["http://vs/x"]}]})), "http://vs/x",
     "includes itself"),
    (Stored(_value_set("http://vs/x", {"include": [{}]})), "http://vs/x", "neither system nor valueSet"),
])
def test_what_cannot_be_expanded_is_refused_saying_why(stored: Stored, url: str, says: str) -> None:
    with pytest.raises(CannotExpand) as caught:
        expand(stored, "code:in", url)
    assert says in str(caught.value)


@st.composite
def _forests(draw: st.DrawFn) -> tuple[dict[str, Any], list[str]]:
    """A code system of up to 12 codes, each optionally placed under an earlier code (several parents
    through ``parent`` properties)."""
    n = draw(st.integers(1, 12))
    codes = [f"c{i}" for i in range(n)]
    concepts = []
    for i, code in enumerate(codes):
        parents = draw(st.sets(st.sampled_from(codes[:i]), max_size=2)) if i else set()
        concepts.append({"code": code, "property": [{"code": "parent", "valueCode": p} for p in sorted(parents)]})
    return _code_system(concepts), codes


@given(_forests())
def test_below_and_above_are_each_others_inverse(forest: tuple[dict[str, Any], list[str]]) -> None:
    code_system, codes = forest
    found = hierarchy(code_system)
    for high in codes:
        below = set(found.closure(high, "below"))
        for low in codes:
            assert (low in below) == (high in found.closure(low, "above"))
