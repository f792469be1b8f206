"""A parsed search: what the store must match, independent of any engine.

Criteria are ANDed; the values inside one criterion are ORed
(https://hl7.org/fhir/R4/search.html#combining). Each value is already typed by its parameter's
type, so the engines never parse strings.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Prefix = Literal["eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap"]
TotalMode = Literal["none", "estimate", "accurate"]


@dataclass(frozen=True, slots=True)
class TokenValue:
    """``[system]|[code]``: ``system`` None matches any system, "" matches no system."""

    system: str | None
    code: str | None


@dataclass(frozen=True, slots=True)
class StringValue:
    norm: str
    exact: str


@dataclass(frozen=True, slots=True)
class ReferenceValue:
    target_type: str | None
    target_id: str | None
    url: str | None = None


@dataclass(frozen=True, slots=True)
class RangeValue:
    """A date search value: the range implied by its precision, and a prefix."""

    prefix: Prefix
    low: float
    high: float


@dataclass(frozen=True, slots=True)
class NumberValue:
    """A number or quantity search value: the number as written (``gt lt ge le sa eb`` compare with it
    exactly), the implicit range its precision gives it, ``[low, high)`` (``eq ne ap`` use it), a prefix,
    and a quantity's system and unit code (https://hl7.org/fhir/R4/search.html#number, #quantity)."""

    prefix: Prefix
    value: float
    low: float
    high: float
    system: str | None = None
    code: str | None = None


@dataclass(frozen=True, slots=True)
class UriValue:
    uri: str


@dataclass(frozen=True, slots=True)
class CompositeValue:
    """``a$b``: one value per component, each typed by its component parameter, all to be found in
    the same element (https://hl7.org/fhir/R4/search.html#composite)."""

    parts: tuple[CompositePart, ...]


@dataclass(frozen=True, slots=True)
class CompositePart:
    """One component of a composite value: its parameter's code and type, and the value."""

    param: str
    type: ParamType
    value: Value


Value = TokenValue | StringValue | ReferenceValue | RangeValue | NumberValue | UriValue | CompositeValue
ParamType = Literal["token", "string", "reference", "date", "number", "quantity", "uri", "composite", "id",
                    "lastUpdated"]


@dataclass(frozen=True, slots=True)
class Chain:
    """``param[:Type].rest=v``: the reference ``param`` points at a resource of one of the target
    types that meets that type's criterion (https://hl7.org/fhir/R4/search.html#chaining). ``rest`` is
    parsed once per target type, since a parameter of one name can be indexed differently by type."""

    targets: tuple[tuple[str, Criterion], ...]


@dataclass(frozen=True, slots=True)
class Reverse:
    """``_has:Type:param:rest=v``: some current ``source_type`` resource points at this one through its
    reference ``param`` and meets ``inner`` (https://hl7.org/fhir/R4/search.html#has)."""

    source_type: str
    param: str
    inner: Criterion
    #: compile as a probe per candidate row (``EXISTS`` through the candidate's referrers) instead of
    #: collecting every referrer's target first: chosen by the store when the referrers are many
    probe: bool = False


@dataclass(frozen=True, slots=True)
class Criterion:
    """One ``name[:modifier]=v1,v2`` parameter of the query (its values ORed). A chained or reverse
    chained parameter carries its ``link`` and no values of its own."""

    param: str
    type: ParamType
    modifier: str | None
    values: tuple[Value, ...]
    missing: bool | None = None
    link: Chain | Reverse | None = None


@dataclass(frozen=True, slots=True)
class Compartment:
    """``Patient/[id]/[type]``: only resources in that patient's compartment, i.e. whose compartment
    parameters for their type (``params``) point at the patient; the Patient itself when ``Patient`` is
    one of the types (https://hl7.org/fhir/R4/compartmentdefinition.html#search)."""

    patient_id: str
    #: per resource type, the reference parameters linking it to the patient
    params: tuple[tuple[str, tuple[str, ...]], ...]


SortValue = int | float | str | None


@dataclass(frozen=True, slots=True)
class SortKey:
    """One key of ``_sort`` (https://hl7.org/fhir/R4/search.html#sort). A resource with several values
    sorts by its smallest (ascending) or largest (descending); one with none sorts last."""

    param: str
    type: ParamType
    descending: bool = False


@dataclass(frozen=True, slots=True)
class Position:
    """A place in the result order, between rows: the sort values and key of the row it follows (or,
    ``backward``, precedes). Keyset paging from a position stays correct while others write."""

    values: tuple[SortValue, ...]
    pk: int
    backward: bool = False


@dataclass(frozen=True, slots=True)
class SearchQuery:
    resource_type: str | None
    criteria: tuple[Criterion, ...] = ()
    count: int = 20
    #: keyset cursor in the default order (by key): the last key of the previous page
    after: int | None = None
    total: TotalMode = "none"
    #: the parameters as understood, for the Bundle's self link
    echo: tuple[tuple[str, str], ...] = field(default=())
    sort: tuple[SortKey, ...] = ()
    #: where a page of a sorted search, or a page before another, starts (``after`` is then None)
    position: Position | None = None
    #: compartment search: only resources in this patient's compartment
    compartment: Compartment | None = None
