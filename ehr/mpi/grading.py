"""Match grades from match probability, and the rules that keep some pairs from ``certain``.

Grades follow the R4 ``match-grade`` extension (http://hl7.org/fhir/StructureDefinition/match-grade):
``certain`` (links automatically), ``probable`` (a data steward reviews), ``possible``,
``certainly-not``. Placeholder identities, multiple births and twin-like pairs (same birth date and
family name or household, different given name) are never ``certain``: they are capped at ``probable``.
"""

from __future__ import annotations

from collections.abc import Mapping

from ehr.mpi.columns import Row
from ehr.mpi.rules import Grade, Grades, MatchSettings


def grade_of(probability: float, grades: Grades) -> Grade:
    """The grade of a match probability under the thresholds of the settings."""
    if probability >= grades.certain:
        return "certain"
    if probability >= grades.probable:
        return "probable"
    if probability >= grades.possible:
        return "possible"
    return "certainly-not"


def never_certain_reason(settings: MatchSettings, left: Row, right: Row, levels: Mapping[str, str]) -> str | None:
    """Why this pair may not be ``certain`` (``levels``: the level label of each field), or ``None``."""
    rules = settings.never_certain
    if rules.placeholder and (left["placeholder"] or right["placeholder"]):
        return "placeholder identity"
    if rules.multiple_birth and (left["multiple_birth"] or right["multiple_birth"]):
        return "multiple birth"
    for twin in rules.twins:
        if all(levels[field] in labels for field, labels in twin.when) and not any(
                levels[field] in labels for field, labels in twin.unless):
            return "possible twins"
    return None


def capped_grade(grade: Grade, reason: str | None) -> Grade:
    """``certain`` becomes ``probable`` when a never-certain rule applies."""
    return "probable" if grade == "certain" and reason is not None else grade
