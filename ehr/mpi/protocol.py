"""What the FHIR side of the master patient index needs of a matching engine.

The engine (``ehr.mpi.engine``: Fellegi–Sunter scores, blocking, EM training) is wrapped by an adapter
that satisfies :class:`Matcher`; the linking, ``$match`` and ``ehr mpi link`` code sees only this.
A match is graded as in the ``match-grade`` extension
(http://hl7.org/fhir/StructureDefinition/match-grade): ``certain`` links automatically, ``probable``
opens a review task, ``possible`` and ``certainly-not`` do nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal, Protocol, TypeVar

from ehr.store.protocol import Tx

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


class PairLike(Protocol):
    """Two records the batch linkage compared (``ehr.mpi.engine.LinkedPair`` has this shape)."""

    @property
    def left(self) -> str: ...

    @property
    def right(self) -> str: ...

    @property
    def probability(self) -> float: ...

    @property
    def grade(self) -> Grade: ...


class BatchLike(Protocol):
    """A whole population linked at once: scored pairs, and clusters of keys (one per person with
    more than one record) (``ehr.mpi.engine.LinkResult`` has this shape)."""

    @property
    def pairs(self) -> Sequence[PairLike]: ...

    @property
    def clusters(self) -> Sequence[Sequence[str]]: ...


class Matcher(Protocol[R]):
    """A matching engine together with its index of the patients it knows (keys are Patient ids).

    The index calls receive the unit of work, so an index kept in the database (the engine's SQL
    index) changes in the same transaction as the Patient write."""

    def features(self, patient: Mapping[str, Any], tenant: str) -> R:
        """The match fields of a FHIR Patient recorded by ``tenant``."""
        ...

    def match(self, tx: Tx, record: R, count: int = 10) -> Sequence[MatchLike]:
        """The indexed records most like ``record``, best first (at most ``count``)."""
        ...

    def upsert(self, tx: Tx, key: str, record: R) -> None: ...

    def remove(self, tx: Tx, key: str) -> None: ...

    def link_all(self, records: Sequence[tuple[str, R]]) -> BatchLike:
        """Link a whole population in one pass (``ehr mpi link``)."""
        ...
