"""The comparison row: a ``PatientRecord`` flattened into the columns the settings refer to.

One row per record, the same for Splink (a pyarrow table registered with the DuckDB or Spark
backend) and for the online scorer in Python, so both compare exactly the same values. Derived
columns: nickname keys and Double Metaphone codes of the names (lists), the birth date with day
and month swapped, and its year, month and day apart.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Literal

import pyarrow as pa

from ehr.mpi.features import PatientRecord
from ehr.mpi.names import nickname_keys, phonetic_codes

Row = Mapping[str, Any]
ColumnKind = Literal["string", "list", "bool"]

UNIQUE_ID = "unique_id"
COLUMNS: dict[str, ColumnKind] = {
    "tenant": "string",
    "given": "string",
    "given_keys": "list",
    "given_ph": "list",
    "given_ph1": "string",
    "middle": "string",
    "family": "string",
    "family_all": "list",
    "family_ph": "list",
    "family_ph1": "string",
    "birth_date": "string",
    "birth_swap": "string",
    "birth_year": "string",
    "birth_month": "string",
    "birth_day": "string",
    "sex": "string",
    "ssn": "string",
    "address_line": "string",
    "postcode": "string",
    "city": "string",
    "phone": "string",
    "email": "string",
    "placeholder": "bool",
    "multiple_birth": "bool",
}
_ARROW_TYPES = {"string": pa.string(), "list": pa.list_(pa.string()), "bool": pa.bool_()}


def comparison_row(key: str, record: PatientRecord) -> dict[str, Any]:
    """The comparison row of ``record`` under ``key`` (empty lists and strings are ``None``)."""
    year, month, day = _date_parts(record.birth_date)
    families = [record.family, *record.previous_families] if record.family else list(record.previous_families)
    row: dict[str, Any] = {
        UNIQUE_ID: key,
        "tenant": record.tenant,
        "given": record.given,
        "given_keys": _list(nickname_keys(record.given) if record.given else ()),
        "given_ph": _list(phonetic_codes(record.given) if record.given else ()),
        "given_ph1": _first_code(record.given),
        "middle": record.middle,
        "family": record.family,
        "family_all": _list(families),
        "family_ph": _list(phonetic_codes(record.family) if record.family else ()),
        "family_ph1": _first_code(record.family),
        "birth_date": record.birth_date,
        "birth_swap": f"{year}-{day}-{month}" if year and month and day and month != day else None,
        "birth_year": year,
        "birth_month": month,
        "birth_day": day,
        "sex": record.sex,
        "ssn": record.ssn,
        "address_line": record.address_line,
        "postcode": record.postcode,
        "city": record.city,
        "phone": record.phone,
        "email": record.email,
        "placeholder": record.placeholder,
        "multiple_birth": record.multiple_birth,
    }
    return row


def arrow_table(rows: Iterable[Row]) -> pa.Table:
    """Comparison rows as a pyarrow table with a fixed schema (columns typed even when all null)."""
    schema = pa.schema([(UNIQUE_ID, pa.string()), *((name, _ARROW_TYPES[kind]) for name, kind in COLUMNS.items())])
    materialised = list(rows)
    return pa.table({name: [row[name] for row in materialised] for name in schema.names}, schema=schema)


def _date_parts(birth_date: str | None) -> tuple[str | None, str | None, str | None]:
    if not birth_date or len(birth_date) != 10:
        return None, None, None
    return birth_date[:4], birth_date[5:7], birth_date[8:10]


def _first_code(name: str | None) -> str | None:
    codes = phonetic_codes(name) if name else ()
    return codes[0] if codes else None


def _list(values: Iterable[str]) -> list[str] | None:
    items = list(dict.fromkeys(values))
    return items or None
