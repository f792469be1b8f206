"""The matching rules of https://hl7.org/fhir/R4/search.html, one function per parameter type, applied to
the typed values of :mod:`tests.search.oracle.values`.

Prefixes (https://hl7.org/fhir/R4/search.html#prefix) on dates compare ranges: the search value's range
(from its precision) against the resource value's range. On numbers and quantities
(https://hl7.org/fhir/R4/search.html#number) ``eq``/``ne``/``ap`` use the search value's implicit range
([99.5, 100.5) for ``100``), while ``gt lt ge le sa eb`` compare with the value "exactly" (its precision
ignored) and a plain resource value is a point. ``ap`` is left to the server by the spec; the oracle only
gives the resources that ``ap`` must find (those whose range overlaps the search value's), see
:func:`approximate_floor`.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from tests.search.oracle.values import Amount, Interval, Ref, Token, fold

UCUM = "http://unitsofmeasure.org"
#: UCUM code -> (canonical code, factor, offset, divisor): canonical = (value * factor + offset) / divisor,
#: one division last so that a result that is a short decimal (98.6 [degF] = 310.15 K) comes out exact; for
#: the units the population and the queries use that the server converts (``ehr.search.values.quantities``
#: documents which)
CONVERSIONS: dict[str, tuple[str, Decimal, Decimal, Decimal]] = {
    "mg": ("g", Decimal("0.001"), Decimal(0), Decimal(1)), "g": ("g", Decimal(1), Decimal(0), Decimal(1)),
    "kg": ("g", Decimal(1000), Decimal(0), Decimal(1)), "[lb_av]": ("g", Decimal("453.59237"), Decimal(0), Decimal(1)),
    "mg/dL": ("g/L", Decimal("0.01"), Decimal(0), Decimal(1)), "g/L": ("g/L", Decimal(1), Decimal(0), Decimal(1)),
    "g/dL": ("g/L", Decimal(10), Decimal(0), Decimal(1)), "mg/L": ("g/L", Decimal("0.001"), Decimal(0), Decimal(1)),
    "s": ("s", Decimal(1), Decimal(0), Decimal(1)), "min": ("s", Decimal(60), Decimal(0), Decimal(1)),
    "h": ("s", Decimal(3600), Decimal(0), Decimal(1)), "a": ("s", Decimal(31557600), Decimal(0), Decimal(1)),
    "K": ("K", Decimal(1), Decimal(0), Decimal(1)), "Cel": ("K", Decimal(1), Decimal("273.15"), Decimal(1)),
    "[degF]": ("K", Decimal(5), Decimal("459.67") * 5, Decimal(9)),
    "/min": ("/s", Decimal(1), Decimal(0), Decimal(60)), "/s": ("/s", Decimal(1), Decimal(0), Decimal(1)),
}  # fmt: skip


def match_string(values: Sequence[str], query: str, modifier: str | None) -> bool:
    if modifier == "exact":
        return query in values
    if modifier == "contains":
        return any(fold(query) in fold(v) for v in values)
    return any(fold(v).startswith(fold(query)) for v in values)


def match_token(values: Sequence[Token], system: str | None, code: str | None) -> bool:
    """``[system]|[code]``: ``system`` None is any system, "" none; ``:not`` is applied by the caller over
    the whole OR list. ``:text`` is no token match: the caller runs :func:`match_string` on the texts."""
    for v in values:
        if code is not None and v.code != code:
            continue
        if system == "" and v.system is not None:
            continue
        if system and v.system != system:
            continue
        if v.code is None and v.system is None:
            continue
        return True
    return False


def match_reference(values: Sequence[Ref], type_: str | None, id_: str | None, url: str | None) -> bool:
    for v in values:
        if id_ is None and v.url == url:
            return True
        if id_ is not None and v.id == id_ and type_ in (None, v.type):
            return True
    return False


def _url(uri: str) -> tuple[str, list[str]] | None:
    """``scheme://authority`` and the path segments of a URL; None for a URN (``urn:oid:...``)."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return None
    authority, _, path = rest.partition("/")
    return f"{scheme}://{authority}", [s for s in path.split("/") if s]


def match_uri(values: Sequence[str], query: str, modifier: str | None) -> bool:
    """Exact, or (``:below``) a URL at or under the searched one, (``:above``) at or above it, by path
    segment (https://hl7.org/fhir/R4/search.html#uri: ``url:above=.../ValueSet/123/_history/5`` finds
    ``.../ValueSet/123``). The modifiers apply to URLs only: a URN matches exactly."""
    if query in values:
        return True
    wanted = _url(query)
    if modifier not in ("above", "below") or wanted is None:
        return False
    for value in values:
        found = _url(value)
        if found is None or found[0] != wanted[0]:
            continue
        lower, upper = (found[1], wanted[1]) if modifier == "below" else (wanted[1], found[1])
        if lower[: len(upper)] == upper:
            return True
    return False


def compare_range(prefix: str, search: Interval, target: Interval) -> bool:
    """The R4 prefix table for ranges (dates, and number/quantity ranges)."""
    inside = search.low <= target.low and target.high <= search.high
    match prefix:
        case "eq":
            return inside
        case "ne":
            return not inside
        case "gt":
            return target.high > search.high
        case "lt":
            return target.low < search.low
        case "ge":
            return target.high > search.high or inside
        case "le":
            return target.low < search.low or inside
        case "sa":
            return target.low > search.high
        case "eb":
            return target.high < search.low
        case "ap":
            return target.low <= search.high and target.high >= search.low
    raise ValueError(prefix)


def compare_number(prefix: str, search: Interval, target: Interval) -> bool:
    """Number search: the implicit range for eq/ne/ap ([low, high) as the spec's examples write it), the
    exact value for the other prefixes; a plain resource number is its point, a Range (or a Quantity with a
    comparator) the closed interval of its ends, which ``eq`` needs inside the half-open implicit range."""
    assert search.point is not None
    point = target.point
    if point is None:  # a Range in the resource
        if prefix in ("eq", "ne"):
            inside = search.low <= target.low and target.high < search.high
            return inside if prefix == "eq" else not inside
        exact = Interval(search.point, search.point, search.point)
        return compare_range(prefix, search if prefix == "ap" else exact, target)
    match prefix:
        case "eq":
            return search.low <= point < search.high
        case "ne":
            return not search.low <= point < search.high
        case "gt" | "sa":
            return point > search.point
        case "lt" | "eb":
            return point < search.point
        case "ge":
            return point >= search.point
        case "le":
            return point <= search.point
        case "ap":
            return search.low <= point <= search.high
    raise ValueError(prefix)


def _canonical(interval: Interval, system: str | None, code: str | None) -> tuple[str, Interval] | None:
    if system not in (None, UCUM) or code not in CONVERSIONS:
        return None
    unit, factor, offset, divisor = CONVERSIONS[code]

    def conv(x: Decimal | None) -> Decimal | None:
        return None if x is None else (x * factor + offset) / divisor if x.is_finite() else x

    low, high = conv(interval.low), conv(interval.high)
    assert low is not None
    assert high is not None
    return unit, Interval(low, high, conv(interval.point))


def match_quantity(values: Sequence[Amount], prefix: str, search: Interval, system: str | None,
                   code: str | None) -> bool:
    """Same units as searched (system and code where given), or both convertible to one canonical UCUM unit
    (https://hl7.org/fhir/R4/search.html#quantity)."""
    wanted = _canonical(search, system, code) if code else None
    for v in values:
        same = (system is None or v.system == system) and (code is None or v.code == code)
        if same and compare_number(prefix, search, v.value):
            return True
        if wanted is not None and v.system == UCUM:
            mine = _canonical(v.value, v.system, v.code)
            if mine is not None and mine[0] == wanted[0] and compare_number(prefix, wanted[1], mine[1]):
                return True
    return False


def approximate_floor(prefix: str) -> bool:
    """Whether a prefix's oracle answer is only the least the server must return (``ap``)."""
    return prefix == "ap"
