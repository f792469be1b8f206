"""UCUM unit conversion for model inputs (The Unified Code for Units of Measure, https://ucum.org/ucum).

Only the conversions the models need are listed, each explicitly; anything else is refused rather than
guessed. Curly-brace annotations are unity in UCUM (§6.4), so ``{beats}/min`` equals ``/min``.
"""

from __future__ import annotations

import re

UCUM_SYSTEM = "http://unitsofmeasure.org"
_ANNOTATION = re.compile(r"\{[^}]*\}")
# Equivalent spellings of one unit, after annotations are removed.
_ALIASES = {"1/min": "/min", "min-1": "/min", "mmHg": "mm[Hg]", "kg/m^2": "kg/m2", "": "1"}
# (from, to) -> (scale, offset): to = from * scale + offset
_LINEAR: dict[tuple[str, str], tuple[float, float]] = {
    ("[degF]", "Cel"): (5.0 / 9.0, -32.0 * 5.0 / 9.0),
    ("K", "Cel"): (1.0, -273.15),
    ("kPa", "mm[Hg]"): (760.0 / 101.325, 0.0),
    ("/s", "/min"): (60.0, 0.0),
    ("/h", "/min"): (1.0 / 60.0, 0.0),
    ("mL/min", "L/min"): (1e-3, 0.0),
    ("mo", "a"): (1.0 / 12.0, 0.0),
}


class UnitError(ValueError):
    """A quantity's unit cannot be converted to the unit a model expects."""


def normalise(code: str) -> str:
    """Strip annotations and map equivalent spellings to one UCUM code."""
    bare = _ANNOTATION.sub("", code).strip()
    return _ALIASES.get(bare, bare)


def convert(value: float, unit: str, target: str) -> float:
    """``value`` in UCUM ``unit`` expressed in ``target``; raise :class:`UnitError` when not convertible."""
    source, goal = normalise(unit), normalise(target)
    if source == goal:
        return value
    if (source, goal) in _LINEAR:
        scale, offset = _LINEAR[(source, goal)]
        return value * scale + offset
    raise UnitError(f"unit {unit!r} cannot be converted to {target!r}; record the value in {target!r}")
