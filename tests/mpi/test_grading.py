"""Placeholder identities, multiple births and twins are never graded ``certain``, whatever else
agrees (property tests), while the same person copied with a typo still is."""

from __future__ import annotations

import dataclasses

from hypothesis import assume, given, settings
from hypothesis import strategies as st

from ehr.mpi.engine import MatchEngine
from ehr.mpi.features import PatientRecord, mark_placeholder
from ehr.mpi.grading import grade_of

ENGINE = MatchEngine.load("v1")
GIVEN = ["william", "mary", "olivia", "jacob", "sophia", "ethan", "ava", "noah", "emma", "liam", "zoe", "oscar"]
FAMILY = ["smith", "kemmer", "heathcote", "rath", "goldner", "brekke"]


@st.composite
def people(draw: st.DrawFn) -> PatientRecord:
    year, month, day = draw(st.integers(1930, 2020)), draw(st.integers(1, 12)), draw(st.integers(1, 28))
    return PatientRecord(
        tenant=draw(st.sampled_from(["hospital-a", "hospital-b"])),
        given=draw(st.sampled_from(GIVEN)), family=draw(st.sampled_from(FAMILY)),
        birth_date=f"{year:04d}-{month:02d}-{day:02d}", sex=draw(st.sampled_from(["male", "female", None])),
        ssn=draw(st.none() | st.from_regex(r"9[0-9]{8}", fullmatch=True)),
        address_line=draw(st.sampled_from(["1 main street", "22 elm road", None])),
        postcode=draw(st.sampled_from(["02110", "01851", None])), city="boston",
        phone=draw(st.none() | st.just("5551234567")), email=None,
    )


@settings(max_examples=150, deadline=None)
@given(people(), st.sampled_from(GIVEN), st.booleans(), st.booleans())
def test_twins_are_never_certain(person: PatientRecord, other_given: str, same_ssn: bool, flagged: bool) -> None:
    assume(other_given != person.given)
    twin = dataclasses.replace(person, given=other_given, tenant="hospital-c", multiple_birth=flagged,
                               ssn=person.ssn if same_ssn else None)
    assert ENGINE.score(person, twin).grade != "certain"
    assert ENGINE.score(twin, person).grade != "certain"


@settings(max_examples=150, deadline=None)
@given(people(), st.sampled_from(["john doe", "jane doe", "unknown", "no birth date", "1900"]))
def test_placeholders_are_never_certain(person: PatientRecord, kind: str) -> None:
    if kind.endswith("doe"):
        given_name, family = kind.split()
        placeholder = dataclasses.replace(person, given=given_name, family=family)
    elif kind == "unknown":
        placeholder = dataclasses.replace(person, given="unknown")
    else:
        placeholder = dataclasses.replace(person, birth_date=None if kind == "no birth date" else "1900-01-01")
    placeholder = mark_placeholder(placeholder)
    assert placeholder.placeholder
    copy = dataclasses.replace(placeholder, tenant="hospital-c", placeholder=False)
    assert ENGINE.score(placeholder, copy).grade != "certain"
    assert ENGINE.score(copy, placeholder).grade != "certain"


@settings(max_examples=100, deadline=None)
@given(people())
def test_multiple_birth_flag_is_never_certain(person: PatientRecord) -> None:
    flagged = dataclasses.replace(person, multiple_birth=True)
    match = ENGINE.score(person, flagged)
    assert match.grade != "certain"
    assert match.capped_because in (None, "multiple birth")


def test_same_person_with_a_typo_is_certain() -> None:
    person = PatientRecord("hospital-a", given="olivia", family="heathcote", birth_date="1961-04-19", sex="female",
                           ssn="912345678", address_line="1 main street", postcode="02110", city="boston")
    copy = dataclasses.replace(person, tenant="hospital-b", family="heathcot", ssn=None)
    match = ENGINE.score(person, copy)
    assert (match.grade, match.capped_because) == ("certain", None)


def test_grade_thresholds() -> None:
    grades = ENGINE.settings.grades
    assert [grade_of(p, grades) for p in (0.999, 0.95, 0.6, 0.1)] == ["certain", "probable", "possible",
                                                                       "certainly-not"]
