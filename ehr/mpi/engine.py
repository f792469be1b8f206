"""The matching engine of the master patient index: the API the FHIR side calls.

::

    engine = MatchEngine.load("v1")                      # settings v1 + its trained model
    index: MatchIndex = SqlMatchIndex(sql_engine, engine.settings)   # or MemoryMatchIndex
    index.upsert("Patient/123", patient_features(patient_json, tenant="hospital-a"))
    for match in engine.match(patient_features(other_json, "hospital-b"), index, count=10):
        match.key, match.probability, match.grade, match.explanation
    engine.score(a, b, key="Patient/123")                # one pair
    engine.link_all(records)                             # batch: Splink predict + clustering

- ``FieldContribution(field, level, weight)``: for one compared field, the level the pair fell in
  and its weight, the log2 Bayes factor ``log2(m/u)`` (0 when a value is missing).
- ``Match(key, probability, weight, grade, explanation)``: ``weight`` is the prior's weight plus
  the fields' weights; ``grade`` is one of ``certain``, ``probable``, ``possible``,
  ``certainly-not`` (the R4 ``match-grade`` codes), already capped to ``probable`` for placeholder
  identities, multiple births and possible twins.
- ``MatchIndex``: where candidate records live; ``candidates`` returns the records sharing a
  blocking key with ``record`` (``ehr.mpi.sql_index.SqlMatchIndex`` for the service,
  ``ehr.mpi.memory_index.MemoryMatchIndex`` for tests).
- ``match`` scores the candidates in Python with the trained m/u parameters and the same level
  definitions Splink uses (equal to Splink's ``predict()`` to floating-point precision) and returns
  the ``count`` best, best first (ties by key). A record already in the index is among its own
  candidates: callers matching an update drop their own key.
- ``link_all`` runs Splink itself (DuckDB) over all records: ``LinkResult.pairs`` holds every
  blocked pair graded ``possible`` or better; ``LinkResult.clusters`` the connected components of
  the ``certain`` pairs (each a sorted tuple of keys, singletons included).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal, Protocol

from ehr.mpi.columns import comparison_row
from ehr.mpi.features import PatientRecord
from ehr.mpi.grading import capped_grade, grade_of, never_certain_reason
from ehr.mpi.model import TrainedModel, load_model
from ehr.mpi.rules import MatchSettings, load_settings
from ehr.mpi.scoring import PairScorer


@dataclass(frozen=True)
class FieldContribution:
    field: str
    level: str
    weight: float  # log2 Bayes factor


@dataclass(frozen=True)
class Match:
    key: str
    probability: float
    weight: float
    grade: Literal["certain", "probable", "possible", "certainly-not"]
    explanation: tuple[FieldContribution, ...]
    capped_because: str | None = None


@dataclass(frozen=True)
class LinkedPair:
    left: str
    right: str
    probability: float
    weight: float
    grade: Literal["certain", "probable", "possible", "certainly-not"]


@dataclass(frozen=True)
class LinkResult:
    pairs: tuple[LinkedPair, ...]
    clusters: tuple[tuple[str, ...], ...]


class MatchIndex(Protocol):
    """Where candidate records live (blocking happens here)."""

    def upsert(self, key: str, record: PatientRecord) -> None: ...

    def remove(self, key: str) -> None: ...

    def candidates(self, record: PatientRecord) -> list[tuple[str, PatientRecord]]: ...


class MatchEngine:
    """Scores, matches and links patient records under one settings version and its model."""

    def __init__(self, settings: MatchSettings, model: TrainedModel) -> None:
        self.settings = settings
        self.model = model
        self._scorer = PairScorer(settings, model)

    @classmethod
    def load(cls, version: str = "v1") -> MatchEngine:
        settings = load_settings(version)
        return cls(settings, load_model(settings))

    def score(self, a: PatientRecord, b: PatientRecord, key: str = "") -> Match:
        """How well ``a`` matches ``b`` (``key``: ``b``'s key, carried into the result)."""
        left, right = comparison_row("", a), comparison_row(key, b)
        scored = self._scorer.score(left, right)
        fields = [c.field for c in self.settings.comparisons]
        reason = never_certain_reason(self.settings, left, right, dict(zip(fields, scored.level_labels, strict=True)))
        grade = capped_grade(grade_of(scored.probability, self.settings.grades), reason)
        explanation = tuple(FieldContribution(field, label, weight) for field, label, weight
                            in zip(fields, scored.level_labels, scored.level_weights, strict=True))
        return Match(key, scored.probability, scored.weight, grade, explanation,
                     reason if grade_of(scored.probability, self.settings.grades) == "certain" else None)

    def match(self, record: PatientRecord, index: MatchIndex, count: int = 10) -> list[Match]:
        """The ``count`` best matches of ``record`` among the index's candidates, best first."""
        matches = [self.score(record, candidate, key) for key, candidate in index.candidates(record)]
        matches.sort(key=lambda m: (-m.weight, m.key))
        return matches[:max(count, 0)]

    def link_all(self, records: Iterable[tuple[str, PatientRecord]]) -> LinkResult:
        """Link all ``records`` with Splink (predict, then clustering of the ``certain`` pairs)."""
        from ehr.mpi.batch import link_records

        return link_records(self.settings, self.model, records)
