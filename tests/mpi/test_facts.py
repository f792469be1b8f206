"""What counts as the same clinical fact reported by two hospitals (``ehr.mpi.facts``)."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ehr.mpi.facts import duplicates, fact_key

LOINC = "http://loinc.org"


def _obs(value: Any = 95, when: str = "2024-03-01T08:00:00Z", code: str = "2339-0", **extra: Any) -> dict[str, Any]:
    return {"resourceType": "Observation", "id": "x", "status": "final",
            "code": {"coding": [{"system": LOINC, "code": code}]}, "effectiveDateTime": when,
            "valueQuantity": {"value": value, "unit": "mg/dL", "code": "mg/dL"}, **extra}


def test_observation_identity_is_code_time_value_and_unit() -> None:
    assert fact_key(_obs(95)) == fact_key(_obs(95.0))
    assert fact_key(_obs(95, "2024-03-01T09:00:00+01:00")) == fact_key(_obs(95, "2024-03-01T08:00:00Z"))
    assert fact_key(_obs(95)) != fact_key(_obs(96))
    assert fact_key(_obs(95)) != fact_key(_obs(95, "2024-03-01T08:00:01Z"))
    assert fact_key(_obs(95)) != fact_key(_obs(95, code="15074-8"))
    other_unit = _obs(95)
    other_unit["valueQuantity"] = {"value": 95, "unit": "mmol/L", "code": "mmol/L"}
    assert fact_key(_obs(95)) != fact_key(other_unit)
    # never merged without a time, a coded code or a value
    assert fact_key({**_obs(), "effectiveDateTime": None}) is None
    assert fact_key({**_obs(), "code": {"text": "glucose"}}) is None
    assert fact_key({k: v for k, v in _obs().items() if k != "valueQuantity"}) is None


def test_other_types() -> None:
    condition = {"resourceType": "Condition", "code": {"coding": [{"system": "http://snomed.info/sct",
                                                                   "code": "22298006"}]},
                 "onsetDateTime": "2024-01-01"}
    assert fact_key(condition) == fact_key({**condition, "id": "other", "note": [{"text": "x"}]})
    assert fact_key({**condition, "onsetDateTime": "2024-01-02"}) != fact_key(condition)
    assert fact_key({"resourceType": "Encounter", "status": "finished"}) is None
    immunization = {"resourceType": "Immunization", "vaccineCode": {"coding": [{"system": "cvx", "code": "208"}]},
                    "occurrenceDateTime": "2021-05-01"}
    assert fact_key(immunization) is not None


def test_duplicates_only_across_hospitals() -> None:
    items = [("hospital-a", _obs(95)), ("hospital-b", _obs(95.0)), ("hospital-a", _obs(95)),
             ("hospital-b", _obs(120))]
    assert duplicates(items) == {0: [1]}


@given(st.lists(st.tuples(st.sampled_from(["a", "b", "c"]), st.sampled_from([90, 95, 95.0, 120]),
                          st.sampled_from(["2024-03-01T08:00:00Z", "2024-03-01T09:00:00+01:00", "2024-03-02"])),
                max_size=12))
def test_every_duplicate_has_the_kept_facts_key_and_another_hospital(
        rows: list[tuple[str, float, str]]) -> None:
    items = [(tenant, _obs(value, when)) for tenant, value, when in rows]
    found = duplicates(items)
    left_out = [i for dups in found.values() for i in dups]
    assert len(left_out) == len(set(left_out))
    assert not set(found) & set(left_out)
    for kept, dups in found.items():
        for i in dups:
            assert i > kept
            assert fact_key(items[i][1]) == fact_key(items[kept][1])
            assert items[i][0] != items[kept][0]
    # what is shown reports each fact through one hospital only: the first one that reported it
    shown: dict[Any, set[str]] = {}
    for i, (tenant, resource) in enumerate(items):
        if i not in left_out:
            shown.setdefault(fact_key(resource), set()).add(tenant)
    assert all(len(tenants) == 1 for tenants in shown.values())
