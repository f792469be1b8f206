"""SMART scope strings: https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ehr.auth.scopes import PERMISSIONS, ResourceScope
from ehr.auth.tokens import CONTEXT_SCOPES, LEVELS, ScopeError, format_scope, parse_scope, parse_scopes

_TYPES = st.sampled_from(["*", "Patient", "Observation", "MedicationRequest", "Encounter"])
_LETTERS = st.sets(st.sampled_from(PERMISSIONS), min_size=1).map(frozenset)
_TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1,
                max_size=12)
_CRITERIA = st.lists(st.tuples(st.from_regex(r"[a-z_][a-z-]{0,10}", fullmatch=True), _TEXT), max_size=3).map(tuple)
SCOPES = st.builds(ResourceScope, st.sampled_from(LEVELS), _TYPES, _LETTERS, _CRITERIA)


@given(SCOPES)
def test_format_then_parse_is_the_identity(scope: ResourceScope) -> None:
    assert parse_scope(format_scope(scope)) == scope


@given(st.lists(SCOPES, max_size=5), st.lists(st.sampled_from(CONTEXT_SCOPES), max_size=4))
def test_context_scopes_grant_no_resources(scopes: list[ResourceScope], context: list[str]) -> None:
    text = " ".join([*context, *(format_scope(s) for s in scopes)])
    assert parse_scopes(text) == tuple(scopes)


@given(st.permutations(PERMISSIONS).map("".join))
def test_letters_only_in_canonical_order(letters: str) -> None:
    if letters == PERMISSIONS:
        assert parse_scope(f"user/Observation.{letters}").permissions == frozenset(PERMISSIONS)
    else:
        with pytest.raises(ScopeError):
            parse_scope(f"user/Observation.{letters}")


@pytest.mark.parametrize(("v1", "letters"), [("read", "rs"), ("write", "cud"), ("*", "cruds")])
def test_v1_permissions(v1: str, letters: str) -> None:
    assert parse_scope(f"patient/Observation.{v1}").permissions == frozenset(letters)


def test_granular_scope_is_url_decoded() -> None:
    scope = parse_scope("patient/Observation.rs?category=http%3A%2F%2Fterminology.hl7.org%2FCodeSystem%2F"
                        "observation-category%7Claboratory&status=final")
    assert scope.criteria == (("category", "http://terminology.hl7.org/CodeSystem/observation-category|laboratory"),
                              ("status", "final"))


@pytest.mark.parametrize("bad", ["patient/Observation.", "patient/Observation.rr", "patient/Observation.sr",
                                 "patient/observation.rs", "user/Observation", "system/*.x", "patient/*.rs?",
                                 "patient/*.rs?category", "user/Observation.readwrite", "patient/.rs"])
def test_malformed_resource_scopes_are_refused(bad: str) -> None:
    with pytest.raises(ScopeError):
        parse_scopes(f"openid {bad}")


def test_unknown_non_resource_scopes_are_ignored() -> None:
    assert parse_scopes("openid email launch/patient offline_access") == ()
