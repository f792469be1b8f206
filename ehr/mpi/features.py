"""Match features of a Patient: the normalised fields the master patient index compares.

``patient_features(patient, tenant)`` reads an R4 Patient (JSON) and returns a frozen
``PatientRecord``. Everything here is pure and deterministic; the comparison of two records is
defined by the settings file (``ehr/mpi/settings/v1.json``), not here.

Spec: https://hl7.org/fhir/R4/patient.html (``name``, ``identifier``, ``birthDate``, ``gender``,
``address``, ``telecom``, ``multipleBirth[x]``), https://hl7.org/fhir/R4/datatypes.html#HumanName
(``use`` = ``official``/``usual``/``old``/``maiden``, ``period``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from ehr.search.values.strings import fold

SSN_SYSTEM = "http://hl7.org/fhir/sid/us-ssn"
MRN_TYPE_CODE = "MR"
CURRENT_NAME_USES = ("official", "usual", None)
PREVIOUS_NAME_USES = ("old", "maiden")
PLACEHOLDER_NAMES = frozenset({
    "unknown", "unk", "doe", "john doe", "jane doe", "baby", "baby boy", "baby girl", "patient", "test",
    "anonymous", "trauma", "noname", "none", "xxx",
})
PLACEHOLDER_GIVEN_FAMILY = frozenset({("john", "doe"), ("jane", "doe"), ("baby", "boy"), ("baby", "girl")})
PLACEHOLDER_BIRTH_DATES = frozenset({"1900-01-01", "1901-01-01", "1800-01-01", "1899-12-31", "0001-01-01"})
PLACEHOLDER_SSNS = frozenset({"000000000", "111111111", "123456789", "999999999"})
PLACEHOLDER_POSTCODES = frozenset({"00000", "99999"})
_NOT_LETTERS = re.compile(r"[^a-z ]+")
_NOT_DIGITS = re.compile(r"\D+")


@dataclass(frozen=True)
class PatientRecord:
    """The match fields of one Patient, normalised (case and accents folded, punctuation dropped).

    ``None`` means unknown; ``previous_families`` holds old and maiden family names. ``placeholder``
    is set for stand-in identities (John/Jane Doe, "unknown", missing or placeholder birth date) and
    ``multiple_birth`` when ``multipleBirth[x]`` says the patient is a twin (or more).
    """

    tenant: str
    mrn: str | None = None
    given: str | None = None
    middle: str | None = None
    family: str | None = None
    previous_families: tuple[str, ...] = ()
    birth_date: str | None = None
    sex: str | None = None
    ssn: str | None = None
    address_line: str | None = None
    postcode: str | None = None
    city: str | None = None
    phone: str | None = None
    email: str | None = None
    placeholder: bool = False
    multiple_birth: bool = False


def patient_features(patient: Mapping[str, Any], tenant: str) -> PatientRecord:
    """The ``PatientRecord`` of an R4 Patient held by hospital ``tenant``."""
    given, middle, family = _current_name(patient.get("name"))
    birth = _birth_date(patient.get("birthDate"))
    address = _home_address(patient.get("address"))
    record = PatientRecord(
        tenant=tenant,
        mrn=_identifier(patient, lambda ident: _type_code(ident) == MRN_TYPE_CODE),
        given=given,
        middle=middle,
        family=family,
        previous_families=_previous_families(patient.get("name"), family),
        birth_date=birth,
        sex=normalise_sex(patient.get("gender")),
        ssn=normalise_ssn(_identifier(patient, lambda ident: ident.get("system") == SSN_SYSTEM)),
        address_line=normalise_text(" ".join(_strings(address.get("line")))),
        postcode=normalise_postcode(address.get("postalCode")),
        city=normalise_name(address.get("city")),
        phone=normalise_phone(_telecom(patient, "phone")),
        email=normalise_email(_telecom(patient, "email")),
        multiple_birth=_multiple_birth(patient),
    )
    return mark_placeholder(record)


def mark_placeholder(record: PatientRecord) -> PatientRecord:
    """``record`` with ``placeholder`` set when it is a stand-in identity."""
    return replace(record, placeholder=record.placeholder or is_placeholder(record))


def is_placeholder(record: PatientRecord) -> bool:
    """A stand-in identity: placeholder name, or a missing or placeholder birth date."""
    names = (record.given, record.family, f"{record.given or ''} {record.family or ''}".strip())
    return (
        record.birth_date is None
        or record.birth_date in PLACEHOLDER_BIRTH_DATES
        or record.family is None
        or any(name in PLACEHOLDER_NAMES for name in names if name)
        or (record.given, record.family) in PLACEHOLDER_GIVEN_FAMILY
    )


def normalise_name(text: Any) -> str | None:
    """Folded letters and single spaces (``"O'Brien-Smith "`` -> ``"obriensmith"``), or ``None``."""
    if not isinstance(text, str):
        return None
    letters = _NOT_LETTERS.sub("", fold(text).replace("-", " "))
    joined = "".join(letters.split())
    return joined or None


def normalise_text(text: Any) -> str | None:
    """Folded words without punctuation (``"4660 Collins Quay, Unit 293"`` -> ``"4660 collins quay unit 293"``)."""
    if not isinstance(text, str):
        return None
    words = re.sub(r"[^a-z0-9 ]+", " ", fold(text)).split()
    return " ".join(words) or None


def normalise_sex(gender: Any) -> str | None:
    """``male``/``female``/``other``; ``unknown`` or absent -> ``None``."""
    return gender if gender in ("male", "female", "other") else None


def normalise_ssn(value: str | None) -> str | None:
    """Nine digits, or ``None`` for absent, malformed or placeholder numbers."""
    digits = _NOT_DIGITS.sub("", value or "")
    if len(digits) != 9 or digits in PLACEHOLDER_SSNS:
        return None
    return digits


def normalise_postcode(value: Any) -> str | None:
    """The postcode folded without spaces; placeholder codes (``00000``) -> ``None``."""
    if not isinstance(value, str):
        return None
    code = "".join(fold(value).split())
    return None if not code or code in PLACEHOLDER_POSTCODES else code


def normalise_phone(value: str | None) -> str | None:
    """The last ten digits of a telephone number (drops country code and punctuation)."""
    digits = _NOT_DIGITS.sub("", value or "")
    return digits[-10:] if len(digits) >= 7 else None


def normalise_email(value: str | None) -> str | None:
    """The address lower-cased and trimmed, when it has an ``@``."""
    text = (value or "").strip().lower()
    return text if "@" in text else None


def _current_name(names: Any) -> tuple[str | None, str | None, str | None]:
    name = _pick_current(names)
    if name is None:
        return None, None, None
    given = [g for g in (normalise_name(part) for part in name.get("given") or []) if g]
    return (given[0] if given else None, given[1] if len(given) > 1 else None, normalise_name(name.get("family")))


def _pick_current(names: Any) -> Mapping[str, Any] | None:
    current = [n for n in _mappings(names) if not _is_previous(n)]
    for use in CURRENT_NAME_USES:
        for name in current:
            if name.get("use") == use:
                return name
    return current[0] if current else None


def _previous_families(names: Any, family: str | None) -> tuple[str, ...]:
    found: list[str] = []
    for name in _mappings(names):
        value = normalise_name(name.get("family"))
        if _is_previous(name) and value and value != family and value not in found:
            found.append(value)
    return tuple(found)


def _is_previous(name: Mapping[str, Any]) -> bool:
    if name.get("use") in PREVIOUS_NAME_USES:
        return True
    end = (name.get("period") or {}).get("end")
    return isinstance(end, str) and end[:10] < datetime.now(UTC).date().isoformat()


def _birth_date(value: Any) -> str | None:
    """The ISO date ``YYYY-MM-DD``; partial dates (``YYYY``, ``YYYY-MM``) are not precise enough."""
    if isinstance(value, str) and re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return value
    return None


def _home_address(addresses: Any) -> Mapping[str, Any]:
    candidates = [a for a in _mappings(addresses) if a.get("use") != "old" and not (a.get("period") or {}).get("end")]
    for address in candidates:
        if address.get("use") == "home":
            return address
    return candidates[0] if candidates else {}


def _telecom(patient: Mapping[str, Any], system: str) -> str | None:
    for point in _mappings(patient.get("telecom")):
        if point.get("system") == system and isinstance(point.get("value"), str) and point.get("use") != "old":
            return str(point["value"])
    return None


def _multiple_birth(patient: Mapping[str, Any]) -> bool:
    flag = patient.get("multipleBirthBoolean")
    order = patient.get("multipleBirthInteger")
    return flag is True or (isinstance(order, int) and not isinstance(order, bool) and order >= 1)


def _identifier(patient: Mapping[str, Any], wanted: Any) -> str | None:
    for ident in _mappings(patient.get("identifier")):
        value = ident.get("value")
        if isinstance(value, str) and value.strip() and wanted(ident):
            return value.strip()
    return None


def _type_code(ident: Mapping[str, Any]) -> str | None:
    for coding in _mappings((ident.get("type") or {}).get("coding")):
        code = coding.get("code")
        if isinstance(code, str):
            return code
    return None


def _mappings(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, Sequence) or isinstance(value, str):
        return []
    return [item for item in value if isinstance(item, Mapping)]


def _strings(values: Any) -> list[str]:
    if not isinstance(values, Sequence) or isinstance(values, str):
        return []
    return [value for value in values if isinstance(value, str)]
