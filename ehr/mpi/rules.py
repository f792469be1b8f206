"""Matching rules as data: the versioned settings file, loaded and validated, never executed.

``ehr/mpi/settings/<version>.json`` holds

- ``blocking_rules``: which pairs are compared at all (records equal on every listed column),
- ``comparisons``: per field, ordered comparison levels (first ``null``, last ``else``), each one
  of a closed set of kinds evaluated identically by Splink (SQL) and by the online scorer (Python):
  ``null``, ``exact``, ``all_equal`` (of ``columns``), ``overlap`` (two lists share a value),
  ``jaro_winkler`` (similarity at least ``threshold``), ``damerau_levenshtein`` (distance at most
  ``distance``), ``swapped`` (``column`` on one side equals ``other`` on the other),
  ``all_but_one_equal`` (of ``columns``), ``else``,
- ``grades``: lower bounds of match probability for ``certain``, ``probable``, ``possible``,
- ``never_certain``: placeholder identities, multiple births and twin-like pairs are graded at most
  ``probable`` (a data steward decides); ``twins`` lists alternative rules, each "these fields at
  these levels (same birth date and family name, or household), unless the given names agree",
- ``training``: the parameters of unsupervised training (deterministic rules for the prior,
  sampling for u, blocking rules for expectation maximisation).

The shape follows Splink's comparison levels
(https://moj-analytical-services.github.io/splink/topic_guides/comparisons/customising_comparisons.html).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, cast, get_args

from ehr.mpi.columns import COLUMNS

SETTINGS_DIR = Path(__file__).parent / "settings"
LevelKind = Literal[
    "null", "exact", "all_equal", "overlap", "jaro_winkler", "damerau_levenshtein", "swapped", "all_but_one_equal",
    "else",
]
Grade = Literal["certain", "probable", "possible", "certainly-not"]
GRADES: tuple[Grade, ...] = ("certain", "probable", "possible", "certainly-not")


class SettingsError(ValueError):
    """The settings file is malformed; the message names the offending entry and what is expected."""


@dataclass(frozen=True)
class Level:
    """One comparison level: its label, kind and the columns (and parameter) it reads."""

    label: str
    kind: LevelKind
    columns: tuple[str, ...] = ()
    threshold: float = 0.0
    distance: int = 0


@dataclass(frozen=True)
class Comparison:
    field: str
    levels: tuple[Level, ...]

    def level_index(self, label: str) -> int:
        return next(i for i, level in enumerate(self.levels) if level.label == label)


@dataclass(frozen=True)
class BlockingRule:
    name: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Grades:
    certain: float
    probable: float
    possible: float


@dataclass(frozen=True)
class TwinRule:
    """A pair is twin-like when every ``when`` field is at one of its levels and no ``unless`` field is."""

    when: tuple[tuple[str, tuple[str, ...]], ...]
    unless: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class NeverCertain:
    placeholder: bool
    multiple_birth: bool
    twins: tuple[TwinRule, ...]


@dataclass(frozen=True)
class Training:
    prior_rules: tuple[tuple[str, ...], ...]
    prior_recall: float
    u_max_pairs: int
    u_seed: int
    em_blocking: tuple[tuple[str, ...], ...]


@dataclass(frozen=True)
class MatchSettings:
    version: str
    digest: str
    blocking_rules: tuple[BlockingRule, ...]
    comparisons: tuple[Comparison, ...]
    grades: Grades
    never_certain: NeverCertain
    training: Training

    def comparison(self, field: str) -> Comparison:
        return next(c for c in self.comparisons if c.field == field)


def settings_path(version: str) -> Path:
    if not version.replace("-", "").replace("_", "").isalnum():
        raise SettingsError(f"settings version {version!r}: use letters, digits, '-' or '_' (e.g. 'v1')")
    return SETTINGS_DIR / f"{version}.json"


def load_settings(version: str = "v1") -> MatchSettings:
    """The validated settings ``version`` from ``ehr/mpi/settings/``."""
    path = settings_path(version)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise SettingsError(f"no matching settings {path.name} in {SETTINGS_DIR}; pick an existing version") from None
    return parse_settings(json.loads(raw), hashlib.sha256(raw).hexdigest())


def parse_settings(data: Any, digest: str = "") -> MatchSettings:
    """Validate a settings document (a parsed JSON object) into ``MatchSettings``."""
    doc = _mapping(data, "settings")
    comparisons = tuple(_comparison(c, i) for i, c in enumerate(_list(doc.get("comparisons"), "comparisons")))
    _unique([c.field for c in comparisons], "comparisons[].field")
    settings = MatchSettings(
        version=_text(doc.get("version"), "version"),
        digest=digest,
        blocking_rules=tuple(_blocking_rule(r, i) for i, r in enumerate(_list(doc.get("blocking_rules"),
                                                                                "blocking_rules"))),
        comparisons=comparisons,
        grades=_grades(_mapping(doc.get("grades"), "grades")),
        never_certain=_never_certain(_mapping(doc.get("never_certain"), "never_certain"), comparisons),
        training=_training(_mapping(doc.get("training"), "training")),
    )
    _unique([r.name for r in settings.blocking_rules], "blocking_rules[].name")
    return settings


def _comparison(data: Any, index: int) -> Comparison:
    where = f"comparisons[{index}]"
    doc = _mapping(data, where)
    levels = tuple(_level(level, f"{where}.levels[{i}]") for i, level in enumerate(_list(doc.get("levels"),
                                                                                          f"{where}.levels")))
    if len(levels) < 3 or levels[0].kind != "null" or levels[-1].kind != "else":
        raise SettingsError(f"{where}: levels must start with a 'null' level, end with 'else' and have one between")
    if any(level.kind in ("null", "else") for level in levels[1:-1]):
        raise SettingsError(f"{where}: 'null' and 'else' levels may only come first and last")
    _unique([level.label for level in levels], f"{where}.levels[].label")
    return Comparison(field=_text(doc.get("field"), f"{where}.field"), levels=levels)


def _level(data: Any, where: str) -> Level:
    doc = _mapping(data, where)
    kind = doc.get("kind")
    if kind not in get_args(LevelKind):
        raise SettingsError(f"{where}.kind: {kind!r} is not one of {', '.join(get_args(LevelKind))}")
    kind = cast(LevelKind, kind)
    label = _text(doc.get("label"), f"{where}.label")
    if kind == "else":
        return Level(label, kind)
    if kind in ("all_equal", "all_but_one_equal"):
        columns = _columns(doc.get("columns"), f"{where}.columns", "string")
        if len(columns) < 2:
            raise SettingsError(f"{where}.columns: name at least two columns")
        return Level(label, kind, columns)
    wanted = "list" if kind == "overlap" else None
    columns = (_column(doc.get("column"), f"{where}.column", wanted),)
    if kind == "swapped":
        columns += (_column(doc.get("other"), f"{where}.other", "string"),)
    threshold = _number(doc.get("threshold"), f"{where}.threshold", 0.0, 1.0) if kind == "jaro_winkler" else 0.0
    distance = int(_number(doc.get("distance"), f"{where}.distance", 1, 5)) if kind == "damerau_levenshtein" else 0
    return Level(label, kind, columns, threshold, distance)


def _blocking_rule(data: Any, index: int) -> BlockingRule:
    doc = _mapping(data, f"blocking_rules[{index}]")
    return BlockingRule(_text(doc.get("name"), f"blocking_rules[{index}].name"),
                        _columns(doc.get("columns"), f"blocking_rules[{index}].columns", "string"))


def _grades(doc: Mapping[str, Any]) -> Grades:
    grades = Grades(*(_number(doc.get(name), f"grades.{name}", 0.0, 1.0) for name in GRADES[:3]))
    if not 0 < grades.possible < grades.probable < grades.certain < 1:
        raise SettingsError("grades: need 0 < possible < probable < certain < 1 (match probabilities)")
    return grades


def _never_certain(doc: Mapping[str, Any], comparisons: Sequence[Comparison]) -> NeverCertain:
    twins = []
    for i, rule in enumerate(_list(doc.get("twins"), "never_certain.twins")):
        where = f"never_certain.twins[{i}]"
        clause = _mapping(rule, where)
        twins.append(TwinRule(_level_sets(clause.get("when"), f"{where}.when", comparisons),
                              _level_sets(clause.get("unless"), f"{where}.unless", comparisons)))
    return NeverCertain(
        placeholder=_flag(doc.get("placeholder"), "never_certain.placeholder"),
        multiple_birth=_flag(doc.get("multiple_birth"), "never_certain.multiple_birth"),
        twins=tuple(twins),
    )


def _level_sets(data: Any, where: str, comparisons: Sequence[Comparison]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    by_field = {c.field: {level.label for level in c.levels} for c in comparisons}
    out = []
    for field, labels in _mapping(data, where).items():
        names = tuple(_text(label, f"{where}.{field}[]") for label in _list(labels, f"{where}.{field}"))
        if field not in by_field or not set(names) <= by_field[field]:
            raise SettingsError(f"{where}.{field}: name a comparison field and labels of its levels")
        out.append((field, names))
    return tuple(out)


def _training(doc: Mapping[str, Any]) -> Training:
    def rules(key: str) -> tuple[tuple[str, ...], ...]:
        return tuple(_columns(r, f"training.{key}[{i}]", "string") for i, r in enumerate(_list(doc.get(key),
                                                                                           f"training.{key}")))

    return Training(
        prior_rules=rules("prior_rules"),
        prior_recall=_number(doc.get("prior_recall"), "training.prior_recall", 0.01, 1.0),
        u_max_pairs=int(_number(doc.get("u_max_pairs"), "training.u_max_pairs", 1000, 1e9)),
        u_seed=int(_number(doc.get("u_seed"), "training.u_seed", 0, 2**31)),
        em_blocking=rules("em_blocking"),
    )


def _columns(data: Any, where: str, kind: str | None) -> tuple[str, ...]:
    columns = tuple(_column(c, f"{where}[]", kind) for c in _list(data, where))
    if not columns:
        raise SettingsError(f"{where}: name at least one column")
    return columns


def _column(name: Any, where: str, kind: str | None) -> str:
    if name not in COLUMNS or (kind is not None and COLUMNS[name] != kind):
        expected = sorted(c for c, k in COLUMNS.items() if kind is None or k == kind)
        raise SettingsError(f"{where}: {name!r} is not a comparison column; use one of {', '.join(expected)}")
    return str(name)


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise SettingsError(f"{where}: expected a JSON object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list) or not value:
        raise SettingsError(f"{where}: expected a non-empty JSON array")
    return value


def _text(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise SettingsError(f"{where}: expected a non-empty string")
    return value


def _flag(value: Any, where: str) -> bool:
    if not isinstance(value, bool):
        raise SettingsError(f"{where}: expected true or false")
    return value


def _number(value: Any, where: str, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not low <= value <= high:
        raise SettingsError(f"{where}: expected a number from {low} to {high}")
    return float(value)


def _unique(names: Sequence[str], where: str) -> None:
    if len(set(names)) != len(names):
        raise SettingsError(f"{where}: names must be unique")
