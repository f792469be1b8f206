"""Token values: Coding, CodeableConcept, Identifier, ContactPoint, and code-like primitives.

The texts that the ``:text`` modifier searches — CodeableConcept.text, every Coding.display,
Identifier.type.text — are string rows of the parameter ``<code>:text`` (:func:`text_param`), folded and
as written like any string, so that ``:text`` is the string search of https://hl7.org/fhir/R4/search.html#string
over all of them.  A CodeableConcept with only ``text`` also gives one token row with neither system nor
code, so that ``:missing`` sees it.

Spec: https://hl7.org/fhir/R4/search.html#token ("the search parameter is processed as a string that
searches text associated with the code/value - either CodeableConcept.text, Coding.display, or
Identifier.type.text")
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ehr.search.index_rows import StringRow, TokenRow
from ehr.search.values.strings import string_row

TokenValueRow = TokenRow | StringRow


def text_param(param: str) -> str:
    """The parameter of the string rows that ``<param>:text`` searches."""
    return f"{param}:text"


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def tokens_from_coding(param: str, value: Any) -> list[TokenValueRow]:
    """Coding -> (system, code); its display -> a ``<param>:text`` row."""
    if not isinstance(value, Mapping):
        return []
    system, code = _str(value.get("system")), _str(value.get("code"))
    rows: list[TokenValueRow] = [] if system is None and code is None else [TokenRow(param, system, code)]
    rows.extend(string_row(text_param(param), value.get("display")))
    return rows


def tokens_from_codeable_concept(param: str, value: Any) -> list[TokenValueRow]:
    """CodeableConcept -> one row per coding; its text and each coding's display -> ``<param>:text`` rows."""
    if not isinstance(value, Mapping):
        return []
    codings = value.get("coding")
    rows = [row for coding in (codings if isinstance(codings, list) else ())
            for row in tokens_from_coding(param, coding)]
    text = value.get("text")
    if _str(text) is not None and not any(isinstance(row, TokenRow) for row in rows):
        rows.append(TokenRow(param, None, None))
    rows.extend(string_row(text_param(param), text))
    return rows


def tokens_from_identifier(param: str, value: Any) -> list[TokenValueRow]:
    """Identifier -> (system, value); for ``:of-type``, one row per coding of its type under
    ``<param>:of-type``: (type system, ``type code|value``); its type's text -> a ``<param>:text`` row.
    Spec: https://hl7.org/fhir/R4/search.html#token (``:of-type``)"""
    if not isinstance(value, Mapping):
        return []
    kind = value.get("type")
    texts = string_row(text_param(param), kind.get("text")) if isinstance(kind, Mapping) else []
    if _str(value.get("value")) is None:
        return list(texts)
    rows: list[TokenValueRow] = [TokenRow(param, _str(value.get("system")), value["value"])]
    codings = kind.get("coding") if isinstance(kind, Mapping) else None
    for coding in codings if isinstance(codings, list) else ():
        system = _str(coding.get("system")) if isinstance(coding, Mapping) else None
        code = _str(coding.get("code")) if isinstance(coding, Mapping) else None
        if system is not None and code is not None:
            rows.append(TokenRow(f"{param}:of-type", system, f"{code}|{value['value']}"))
    rows.extend(texts)
    return rows


def tokens_from_contact_point(param: str, value: Any) -> list[TokenRow]:
    """ContactPoint -> (ContactPoint.system such as ``phone``, value), as HAPI FHIR indexes it."""
    if not isinstance(value, Mapping) or _str(value.get("value")) is None:
        return []
    return [TokenRow(param, _str(value.get("system")), value["value"])]


def tokens_from_primitive(param: str, value: Any) -> list[TokenRow]:
    """code, id, string, uri -> code only; boolean -> ``true``/``false``."""
    if isinstance(value, bool):
        return [TokenRow(param, None, "true" if value else "false")]
    if isinstance(value, str) and value:
        return [TokenRow(param, None, value)]
    return []
