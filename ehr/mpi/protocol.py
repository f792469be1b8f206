"""What the FHIR side of the master patient index needs of a matching engine.

The engine (``ehr.mpi.engine``: Fellegi–Sunter scores, blocking, EM training) is wrapped by an adapter
that satisfies :class:`Matcher`; the linking, ``$match`` and ``ehr mpi link`` code sees only this.
A match is graded as in the ``match-grade`` extension
(http://hl7.org/fhir/StructureDefinition/match-grade): ``certain`` links automatically, ``probable``
opens a review task, ``possible`` and ``certainly-not`` do nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar

Grade = Literal["certain", "probable", "possible", "certainly-not"]
GRADES: tuple[Grade, ...] = ("certain", "probable", "possible", "certainly-not")

R = TypeVar("R")


class Contribution(Protocol):
    """One field's part of a score: the comparison level it reached and its log2 Bayes factor."""

    @property
    def field(self) -> str: ...

    @property
    def level(self) -> str: ...

    @property
    def weight(self) -> float: ...


class MatchLike(Protocol):
    """One indexed record compared with the query record (``ehr.mpi.engine.Match`` has this shape)."""

    @property
    def key(self) -> str: ...

    @property
    def probability(self) -> float: ...

    @property
    def weight(self) -> float: ...

    @property
    def grade(self) -> Grade: ...

    @property
    def explanation(self) -> Sequence[Contribution]: ...


@dataclass(frozen=True, slots=True)
class ScoredPair:
    """Two records the batch linkage compared, with their match probability and grade."""

    a: str
    b: str
    probability: float
    grade: Grade


@dataclass(frozen=True, slots=True)
class BatchLinks:
    """The result of linking a whole population at once: scored pairs and clusters of keys (one
    cluster per person with more than one record)."""

    pairs: Sequence[ScoredPair] = ()
    clusters: Sequence[Sequence[str]] = field(default_factory=tuple)


class Matcher(Protocol[R]):
    """A matching engine together with its index of the patients it knows (keys are Patient ids)."""

    def features(self, patient: Mapping[str, Any], tenant: str) -> R:
        """The match fields of a FHIR Patient recorded by ``tenant``."""
        ...

    def match(self, record: R, count: int = 10) -> Sequence[MatchLike]:
        """The indexed records most like ``record``, best first (at most ``count``)."""
        ...

    def upsert(self, key: str, record: R) -> None: ...

    def remove(self, key: str) -> None: ...

    def link_all(self, records: Sequence[tuple[str, R]]) -> BatchLinks:
        """Link a whole population in one pass (``ehr mpi link``)."""
        ...
