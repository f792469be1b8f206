"""Model inputs from FHIR R4 resources, with an explicit missing-data policy.

Sources (https://hl7.org/fhir/R4/observation.html, condition.html, patient.html):

- Observation: matched by ``code`` or ``component.code`` coding; only status final/amended/corrected;
  the most recent by ``effective[x]`` is used. It must carry a value (no ``dataAbsentReason``), a UCUM
  unit convertible to the model's unit (:mod:`inference.units`), lie in the feature's plausible range,
  have a full date-time not in the future, and be inside the feature's recency window.
- Condition: matched by SNOMED CT or ICD-10 coding (ICD-10 by category prefix where declared), excluding
  verificationStatus refuted/entered-in-error and onsets after ``now``; absent means 0.
- Patient: age in years from ``birthDate`` (at least year and month); sex from ``gender`` (male/female).

Each feature yields either an :class:`Input` (value with unit, date and source) or a :class:`Problem` saying
why the value cannot be used and what to record instead. A suggestion is computed only with no problems.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from inference.repository import CodeRef, FeatureSpec
from inference.units import UCUM_SYSTEM, UnitError, convert

USABLE_STATUS = frozenset({"final", "amended", "corrected"})
EXCLUDED_VERIFICATION = frozenset({"refuted", "entered-in-error"})
CLOCK_SKEW = timedelta(minutes=5)
ProblemKind = Literal["missing", "stale", "implausible", "invalid", "ineligible"]


@dataclass(frozen=True)
class Input:
    """A usable feature value and where it came from."""

    feature: str
    value: float
    unit: str | None
    display: str
    date: str | None
    source: str | None


@dataclass(frozen=True)
class Problem:
    """Why a feature cannot be used; ``reason`` says what to record to fix it (no patient values)."""

    feature: str
    kind: ProblemKind
    reason: str


def parse_datetime(value: str | None) -> datetime | None:
    """A FHIR dateTime/instant with a time zone, or a full date (taken as 00:00 UTC); None otherwise."""
    if not value:
        return None
    if len(value) == 10:
        try:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC)
        except ValueError:
            return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def effective(resource: Mapping[str, Any]) -> str | None:
    """``effectiveDateTime``, ``effectiveInstant`` or the end (else start) of ``effectivePeriod``."""
    period = resource.get("effectivePeriod") or {}
    raw = (
        resource.get("effectiveDateTime")
        or resource.get("effectiveInstant")
        or period.get("end")
        or period.get("start")
    )
    return str(raw) if raw else None


def _codings(concept: Mapping[str, Any] | None) -> Iterator[tuple[str | None, str | None]]:
    for coding in (concept or {}).get("coding", []):
        yield coding.get("system"), coding.get("code")


def _matches(concept: Mapping[str, Any] | None, codes: Sequence[CodeRef]) -> CodeRef | None:
    for system, code in _codings(concept):
        for ref in codes:
            if ref.matches(system, code):
                return ref
    return None


def _ref(resource: Mapping[str, Any]) -> str | None:
    rid = resource.get("id")
    return f"{resource['resourceType']}/{rid}" if rid else None


@dataclass(frozen=True)
class Candidate:
    """An Observation (or one of its components) whose code matches a feature."""

    observation: Mapping[str, Any]
    node: Mapping[str, Any]
    code: CodeRef
    when: datetime | None


class ObservationIndex:
    """Usable-status Observations (and components) by (system, code), effective time parsed once.

    Built once per ``suggest`` call so that each feature is a dictionary look-up, not a scan.
    """

    def __init__(self, observations: Iterable[Mapping[str, Any]]) -> None:
        self._by_code: dict[
            tuple[str | None, str | None], list[tuple[Mapping[str, Any], Mapping[str, Any], datetime | None]]
        ] = {}
        for obs in observations:
            if obs.get("resourceType") != "Observation" or obs.get("status") not in USABLE_STATUS:
                continue
            when = parse_datetime(effective(obs))
            for node in (obs, *obs.get("component", [])):
                for key in _codings(node.get("code")):
                    self._by_code.setdefault(key, []).append((obs, node, when))

    def candidates(self, codes: Sequence[CodeRef]) -> list[Candidate]:
        """Matches for any of ``codes``, most recent first (undated ones last)."""
        found = []
        for ref in codes:
            keys = [k for k in self._by_code if ref.matches(*k)] if ref.prefix else [(ref.system, ref.code)]
            for key in keys:
                found += [Candidate(obs, node, ref, when) for obs, node, when in self._by_code.get(key, [])]
        epoch = datetime.min.replace(tzinfo=UTC)
        return sorted(found, key=lambda c: c.when or epoch, reverse=True)


def _describe(codes: Sequence[CodeRef]) -> str:
    return " or ".join(f"{c.system.rsplit('/', 1)[-1]} {c.code}" for c in codes)


def _timing_problem(spec: FeatureSpec, cand: Candidate, now: datetime) -> Problem | None:
    """Undated, future-dated or stale observations are not used."""
    if cand.when is None:
        return Problem(spec.name, "invalid", f"latest {spec.name} Observation has no full effective date-time")
    if cand.when > now + CLOCK_SKEW:
        return Problem(spec.name, "invalid", f"latest {spec.name} Observation is dated in the future; correct its date")
    if spec.window_hours is not None and now - cand.when > timedelta(hours=spec.window_hours):
        return Problem(
            spec.name,
            "stale",
            f"latest {spec.name} Observation is older than {spec.window_hours:g} h; record a current value",
        )
    return None


def _quantity(spec: FeatureSpec, cand: Candidate, unit: str, bounds: tuple[float, float] | None) -> float | Problem:
    """The candidate's valueQuantity in ``unit``, range-checked."""
    qty = cand.node.get("valueQuantity")
    if qty is None or qty.get("value") is None:
        why = "has a dataAbsentReason" if cand.node.get("dataAbsentReason") else "has no valueQuantity"
        return Problem(spec.name, "invalid", f"latest {spec.name} Observation {why}")
    if qty.get("system") != UCUM_SYSTEM or not qty.get("code"):
        return Problem(spec.name, "invalid", f"{spec.name} has no UCUM unit code; record it in {unit!r}")
    try:
        value = convert(float(qty["value"]), str(qty["code"]), unit)
    except UnitError as exc:
        return Problem(spec.name, "invalid", f"{spec.name}: {exc}")
    if bounds is not None and not bounds[0] <= value <= bounds[1]:
        return Problem(
            spec.name,
            "implausible",
            f"{spec.name} is outside the plausible range {bounds[0]:g}–{bounds[1]:g} {unit}; check and re-record it",
        )
    return value


def _latest(spec: FeatureSpec, observations: ObservationIndex, now: datetime) -> Candidate | Problem:
    cands = observations.candidates(spec.codes)
    if not cands:
        return Problem(
            spec.name, "missing", f"no final Observation {_describe(spec.codes)} for {spec.name}; record one"
        )
    return _timing_problem(spec, cands[0], now) or cands[0]


def _make_input(spec: FeatureSpec, cand: Candidate, value: float, unit: str | None, display: str) -> Input:
    return Input(spec.name, value, unit, display, effective(cand.observation), _ref(cand.observation))


def extract_observation(spec: FeatureSpec, observations: ObservationIndex, now: datetime) -> Input | Problem:
    """A numeric Observation feature in the model's unit."""
    cand = _latest(spec, observations, now)
    if isinstance(cand, Problem):
        return cand
    assert spec.unit is not None
    value = _quantity(spec, cand, spec.unit, spec.range)
    if isinstance(value, Problem):
        return value
    return _make_input(spec, cand, value, spec.unit, f"{value:g} {spec.unit}")


def extract_flag(spec: FeatureSpec, observations: ObservationIndex, now: datetime) -> Input | Problem:
    """1 when the latest matching quantity is above its code's threshold (e.g. FiO₂ > 21 %), else 0."""
    cand = _latest(spec, observations, now)
    if isinstance(cand, Problem):
        return cand
    unit, above = cand.code.unit or "1", cand.code.above or 0.0
    value = _quantity(spec, cand, unit, cand.code.range)
    if isinstance(value, Problem):
        return value
    flag = 1.0 if value > above else 0.0
    return _make_input(spec, cand, flag, None, f"{value:g} {unit} ({'above' if flag else 'not above'} {above:g})")


def extract_coded(spec: FeatureSpec, observations: ObservationIndex, now: datetime) -> Input | Problem:
    """A coded answer mapped through the feature's value map."""
    cand = _latest(spec, observations, now)
    if isinstance(cand, Problem):
        return cand
    for system, code in _codings(cand.node.get("valueCodeableConcept")):
        key = f"{system}|{code}"
        if key in spec.value_map:
            return _make_input(spec, cand, spec.value_map[key], None, key)
    return Problem(
        spec.name,
        "invalid",
        f"latest {spec.name} answer is not one of the model's codes ({', '.join(spec.value_map)})",
    )


def condition_date(cond: Mapping[str, Any]) -> datetime | None:
    """When the condition began or was recorded: onsetDateTime, onsetPeriod.start, then recordedDate."""
    period = cond.get("onsetPeriod") or {}
    return parse_datetime(cond.get("onsetDateTime") or period.get("start") or cond.get("recordedDate"))


def _condition_counts(spec: FeatureSpec, cond: Mapping[str, Any], now: datetime) -> bool:
    """Not refuted/entered-in-error, not in the future, and (with a window) dated inside it."""
    if {c for _, c in _codings(cond.get("verificationStatus"))} & EXCLUDED_VERIFICATION:
        return False
    when = condition_date(cond)
    if when is not None and when > now + CLOCK_SKEW:
        return False
    if spec.window_hours is not None:
        return when is not None and now - when <= timedelta(hours=spec.window_hours)
    return True


def extract_condition(spec: FeatureSpec, conditions: Sequence[Mapping[str, Any]], now: datetime) -> Input:
    """1 with the first matching Condition as source, else 0 (absence in the record counts as absent).

    With a ``window_hours`` (e.g. an *acute* event) only Conditions dated inside the window count.
    """
    for cond in conditions:
        if _condition_counts(spec, cond, now) and _matches(cond.get("code"), spec.codes):
            return Input(
                spec.name,
                1.0,
                None,
                "recorded",
                cond.get("recordedDate") or cond.get("onsetDateTime"),
                _ref(cond),
            )
    return Input(spec.name, 0.0, None, "not recorded", None, None)


def age_years(birth: str, now: datetime) -> float | None:
    """Completed years (fractional by month) from a FHIR date with at least year and month."""
    parts = birth.split("-")
    if len(parts) < 2 or not all(p.isdigit() for p in parts):
        return None
    year, month = int(parts[0]), int(parts[1])
    day = int(parts[2]) if len(parts) > 2 else 1
    years = now.year - year - ((now.month, now.day) < (month, day))
    return float(years)


def extract_demographic(spec: FeatureSpec, patient: Mapping[str, Any], now: datetime) -> Input | Problem:
    """Age in years or sex (1 = female, 0 = male) from the Patient resource."""
    ref = _ref(patient)
    if spec.source == "sex":
        gender = patient.get("gender")
        if gender not in ("male", "female"):
            return Problem(
                spec.name,
                "invalid",
                "the model was trained on recorded male/female sex only; Patient.gender is missing, other or unknown",
            )
        return Input(spec.name, 1.0 if gender == "female" else 0.0, None, str(gender), None, ref)
    age = age_years(str(patient.get("birthDate", "")), now)
    if age is None:
        return Problem(spec.name, "missing", "Patient.birthDate with at least year and month is required")
    if spec.range is not None and not spec.range[0] <= age <= spec.range[1]:
        return Problem(
            spec.name,
            "ineligible",
            f"age is outside the model's range {spec.range[0]:g}–{spec.range[1]:g} years",
        )
    return Input(spec.name, age, "a", f"{age:g} a", patient.get("birthDate"), ref)


def extract(
    spec: FeatureSpec,
    patient: Mapping[str, Any],
    observations: ObservationIndex,
    conditions: Sequence[Mapping[str, Any]],
    now: datetime,
) -> Input | Problem:
    """Dispatch on the feature's source."""
    match spec.source:
        case "age" | "sex":
            return extract_demographic(spec, patient, now)
        case "observation":
            return extract_observation(spec, observations, now)
        case "observation_flag":
            return extract_flag(spec, observations, now)
        case "observation_coded":
            return extract_coded(spec, observations, now)
        case "condition":
            return extract_condition(spec, conditions, now)
