"""Token values: Coding, CodeableConcept, Identifier, ContactPoint, and code-like primitives.

``text`` carries what the ``:text`` modifier searches (Coding.display, CodeableConcept.text,
Identifier.type.text), case- and accent-folded.  A CodeableConcept with only ``text`` gives one row with
neither system nor code, so that ``:text`` and ``:missing`` see it.

Spec: https://hl7.org/fhir/R4/search.html#token
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ehr.search.index_rows import TokenRow
from ehr.search.values.strings import fold


def _text(value: Any) -> str | None:
    return fold(value) if isinstance(value, str) and value else None


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def tokens_from_coding(param: str, value: Any, text: str | None = None) -> list[TokenRow]:
    """Coding -> (system, code, display); ``text`` overrides the display (a CodeableConcept's text)."""
    if not isinstance(value, Mapping):
        return []
    system, code = _str(value.get("system")), _str(value.get("code"))
    if system is None and code is None:
        return []
    return [TokenRow(param, system, code, text or _text(value.get("display")))]


def tokens_from_codeable_concept(param: str, value: Any) -> list[TokenRow]:
    """CodeableConcept -> one row per coding (text: CodeableConcept.text, else the coding's display)."""
    if not isinstance(value, Mapping):
        return []
    text = _text(value.get("text"))
    codings = value.get("coding")
    rows = [
        row
        for coding in (codings if isinstance(codings, list) else ())
        for row in tokens_from_coding(param, coding, text)
    ]
    if not rows and text is not None:
        rows.append(TokenRow(param, None, None, text))
    return rows


def tokens_from_identifier(param: str, value: Any) -> list[TokenRow]:
    """Identifier -> (system, value, type.text); and for ``:of-type``, one row per coding of its type
    under ``<param>:of-type``: (type system, ``type code|value``).
    Spec: https://hl7.org/fhir/R4/search.html#token (``:of-type``)"""
    if not isinstance(value, Mapping) or _str(value.get("value")) is None:
        return []
    kind = value.get("type")
    text = _text(kind.get("text")) if isinstance(kind, Mapping) else None
    rows = [TokenRow(param, _str(value.get("system")), value["value"], text)]
    codings = kind.get("coding") if isinstance(kind, Mapping) else None
    for coding in codings if isinstance(codings, list) else ():
        system = _str(coding.get("system")) if isinstance(coding, Mapping) else None
        code = _str(coding.get("code")) if isinstance(coding, Mapping) else None
        if system is not None and code is not None:
            rows.append(TokenRow(f"{param}:of-type", system, f"{code}|{value['value']}"))
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
