"""Comparison levels: the name, date and identifier levels land where they should, and the string
metrics of the Python scorer agree with DuckDB's, which Splink uses, value for value."""

from __future__ import annotations

import dataclasses

import duckdb
import jellyfish
from hypothesis import given, settings
from hypothesis import strategies as st

from ehr.mpi.engine import MatchEngine
from ehr.mpi.features import PatientRecord

ENGINE = MatchEngine.load("v1")
BASE = PatientRecord("hospital-a", given="william", family="smith", birth_date="1970-03-08", sex="male",
                     ssn="900112222", address_line="1 main street", postcode="02110", city="boston",
                     phone="5551234567", email="w.smith@example.com")


def levels(a: PatientRecord, b: PatientRecord) -> dict[str, str]:
    return {c.field: c.level for c in ENGINE.score(a, b).explanation}


def test_nickname_level() -> None:
    assert levels(BASE, dataclasses.replace(BASE, given="bill"))["given"] == "nickname"
    assert levels(BASE, dataclasses.replace(BASE, given="liz"))["given"] != "nickname"


def test_phonetic_level() -> None:
    katherine = dataclasses.replace(BASE, given="katherine")
    assert levels(katherine, dataclasses.replace(BASE, given="cathryn"))["given"] == "phonetic"
    assert levels(BASE, dataclasses.replace(BASE, family="smyth"))["family"] == "phonetic"


def test_birth_date_levels() -> None:
    assert levels(BASE, dataclasses.replace(BASE, birth_date="1970-08-03"))["birth_date"] == "day/month swapped"
    assert levels(BASE, dataclasses.replace(BASE, birth_date="1971-03-08"))["birth_date"] == "one component off"
    assert levels(BASE, dataclasses.replace(BASE, birth_date="1980-01-01"))["birth_date"] == "different"
    assert levels(BASE, dataclasses.replace(BASE, birth_date=None))["birth_date"] == "missing"


def test_identifier_and_name_change_levels() -> None:
    assert levels(BASE, dataclasses.replace(BASE, ssn="900121222"))["ssn"].startswith("typo")
    assert levels(BASE, dataclasses.replace(BASE, ssn=None))["ssn"] == "missing"
    married = dataclasses.replace(BASE, family="jones", previous_families=("smith",))
    assert levels(BASE, married)["family"] == "previous name"


def test_weights_add_up_and_missing_values_weigh_nothing() -> None:
    match = ENGINE.score(BASE, dataclasses.replace(BASE, phone=None, email=None), key="Patient/2")
    assert match.key == "Patient/2"
    total = ENGINE.model.prior_weight + sum(c.weight for c in match.explanation)
    assert abs(match.weight - total) < 1e-9
    assert {c.field: c.weight for c in match.explanation}["phone"] == 0.0
    assert match.grade == "certain"


TEXT = st.text(alphabet="abcdeéxyz019 -", max_size=14)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT), min_size=1, max_size=40))
def test_string_metrics_agree_with_duckdb(pairs: list[tuple[str, str]]) -> None:
    with duckdb.connect() as con:
        con.execute("create table p(i integer, a varchar, b varchar)")
        con.executemany("insert into p values (?, ?, ?)", [(i, a, b) for i, (a, b) in enumerate(pairs)])
        rows = con.execute("select a, b, jaro_winkler_similarity(a, b), damerau_levenshtein(a, b) from p order by i")
        for a, b, jw, dl in rows.fetchall():
            assert jellyfish.jaro_winkler_similarity(a, b) == jw
            assert jellyfish.damerau_levenshtein_distance(a, b) == dl
