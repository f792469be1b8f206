"""String values: string, markdown, HumanName and Address, stored folded and as written.

Spec: https://hl7.org/fhir/R4/search.html#string ("name" on HumanName matches family, given, prefix,
suffix and text; on Address: line, city, district, state, country, postalCode and text).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Mapping
from typing import Any

from ehr.search.index_rows import StringRow

HUMAN_NAME_PARTS = ("text", "family", "given", "prefix", "suffix")
ADDRESS_PARTS = ("text", "line", "city", "district", "state", "postalCode", "country")


def fold(text: str) -> str:
    """Case- and accent-fold: casefold, NFKD, drop combining marks, casefold (``"Ángel"`` -> ``"angel"``).
    Casefolding first keeps characters whose case mapping is a letter (U+0345, the Greek iota
    subscript, folds to ``ι`` whether written small or capital).

    Spec: https://hl7.org/fhir/R4/search.html#string (matching is case- and accent-insensitive).
    """
    if text.isascii():
        return text.casefold()
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def string_row(param: str, text: Any) -> list[StringRow]:
    """One row for a ``string``/``markdown`` value (blank or non-string values give none)."""
    if not isinstance(text, str) or not text.strip():
        return []
    return [StringRow(param, fold(text), text)]


def _parts(param: str, value: Any, parts: tuple[str, ...]) -> list[StringRow]:
    if not isinstance(value, Mapping):
        return []
    rows: list[StringRow] = []
    for part in parts:
        found = value.get(part)
        for text in found if isinstance(found, list) else (found,):
            rows.extend(string_row(param, text))
    return rows


def strings_from_human_name(param: str, value: Any) -> list[StringRow]:
    """HumanName -> text, family, each given, prefix and suffix."""
    return _parts(param, value, HUMAN_NAME_PARTS)


def strings_from_address(param: str, value: Any) -> list[StringRow]:
    """Address -> text, each line, city, district, state, postalCode and country."""
    return _parts(param, value, ADDRESS_PARTS)
