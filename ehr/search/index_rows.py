"""Index rows: what one resource contributes to each search index table.

Extraction (``ehr.search.extract``) turns a resource into an :class:`IndexRows`; the store writes the
rows in the same database transaction as the resource itself, one table per value type, as HAPI FHIR
and Microsoft's FHIR server do. Every row carries the search parameter ``code`` it belongs to
(``"code"``, ``"subject"``, ``"_lastUpdated"`` ...); the store adds the resource type and key.

Dates are stored as closed ranges in microseconds since the Unix epoch (UTC), so that a value's
precision is kept: ``2020-03`` becomes [2020-03-01T00:00:00, 2020-03-31T23:59:59.999999].
Numbers and quantities are compared as the values they are, so ``low``/``high`` hold the value itself
(``1.5`` is [1.5, 1.5]); a Range holds its ends, a Quantity with a comparator is open on one side
(https://hl7.org/fhir/R4/search.html#number: only the search value's precision makes a range).
Strings are stored twice: ``norm`` is case- and accent-folded for the default (starts-with) and
``:contains`` searches, ``exact`` is the value as written for ``:exact``.

Modifiers that search other values than the parameter's own have rows of their own, under
``<code>:<modifier>``: token rows ``identifier:of-type`` (``:of-type``) and ``subject:identifier`` (a
reference's identifier, ``:identifier``), string rows ``code:text`` (the texts of a token's values,
``:text``) and ``subject:display`` (a reference's display, ``:text`` on a reference).

Spec: https://hl7.org/fhir/R4/search.html#ptypes
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TokenRow:
    """A coded value: Coding, CodeableConcept, Identifier, ContactPoint, code, boolean, id."""

    param: str
    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class StringRow:
    param: str
    norm: str
    exact: str


@dataclass(frozen=True, slots=True)
class ReferenceRow:
    """A reference split into target type and id; absolute or canonical URLs keep ``url``."""

    param: str
    target_type: str | None
    target_id: str | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class DateRow:
    param: str
    low: int
    high: int


@dataclass(frozen=True, slots=True)
class NumberRow:
    """A number: ``value`` (what ``_sort`` uses) and the [low, high] it covers, low == high == value for a
    plain number, a Range's ends (infinite where one is missing)."""

    param: str
    value: float
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class QuantityRow:
    """A Quantity, Money or Range: its value and the [low, high] it covers, as :class:`NumberRow`."""

    param: str
    system: str | None
    code: str | None
    value: float
    low: float
    high: float
    #: value and unit code converted to a canonical UCUM unit where the unit allows, else None
    canonical_code: str | None = None
    canonical_value: float | None = None
    #: ``low`` and ``high`` in the canonical unit (None when ``canonical_code`` is None)
    canonical_low: float | None = None
    canonical_high: float | None = None


@dataclass(frozen=True, slots=True)
class UriRow:
    param: str
    uri: str


ComponentRow = TokenRow | StringRow | ReferenceRow | DateRow | NumberRow | QuantityRow | UriRow


@dataclass(frozen=True, slots=True)
class CompositeRow:
    """One combination of component values taken from the same element: ``code-value-quantity`` pairs
    an Observation's code with its own value, ``component-code-value-quantity`` each component's code
    with that component's value. Each component row's ``param`` is the component parameter's code.

    Spec: https://hl7.org/fhir/R4/search.html#composite
    """

    param: str
    components: tuple[ComponentRow, ...]


@dataclass(slots=True)
class IndexRows:
    """Everything one resource version contributes to the search indexes."""

    tokens: list[TokenRow] = field(default_factory=list)
    strings: list[StringRow] = field(default_factory=list)
    references: list[ReferenceRow] = field(default_factory=list)
    dates: list[DateRow] = field(default_factory=list)
    numbers: list[NumberRow] = field(default_factory=list)
    quantities: list[QuantityRow] = field(default_factory=list)
    uris: list[UriRow] = field(default_factory=list)
    composites: list[CompositeRow] = field(default_factory=list)
