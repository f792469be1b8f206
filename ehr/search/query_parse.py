"""Turn ``name[:modifier]=value`` pairs into a :class:`SearchQuery`.

Unknown or unsupported parameters and modifiers are refused with a 400 OperationOutcome, unless the
client sent ``Prefer: handling=lenient``, in which case they are ignored and left out of the
``self`` link (https://hl7.org/fhir/R4/search.html#errors).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ehr.errors import BadRequest, Issue, UnknownParameter
from ehr.search import query_values as qv
from ehr.search.blind import Blinder, is_blind
from ehr.search.paging import decode_cursor
from ehr.search.query import Chain, Compartment, Criterion, ParamType, Reverse, SearchQuery, SortKey, TotalMode
from ehr.search.query_modifiers import build_criterion, check_modifier
from ehr.search.query_modifiers import unsupported as _unsupported
from ehr.search.terminology import Terminology

#: result parameters handled by the HTTP layer or the query itself
RESULT_PARAMETERS = frozenset({"_count", "_total", "_format", "_pretty", "_summary", "_elements", "_cursor",
                               "_sort"})
#: parameter types a search can be sorted by
SORTABLE = frozenset({"id", "lastUpdated", "token", "string", "reference", "date", "number", "quantity", "uri"})
MAX_COUNT = 1000
COMMON_PARAMETERS = frozenset({"_id", "_lastUpdated", "_tag", "_profile", "_security", "_source"})
#: handled by the interaction after the page is found (https://hl7.org/fhir/R4/search.html#include)
INCLUDE_PARAMETERS = frozenset({"_include", "_revinclude"})
#: links of a chain (and of nested _has) followed at most
MAX_CHAIN_DEPTH = 4
class ParamInfo(Protocol):
    @property
    def code(self) -> str: ...

    @property
    def type(self) -> str: ...


class ParamLookup(Protocol):
    def params_for(self, resource_type: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class ParseOptions:
    base_url: str
    lenient: bool = False
    default_count: int = 20
    #: rewrites criteria on blind-indexed parameters into digests (``ehr.search.blind``)
    blinder: Blinder | None = None
    #: the stored CodeSystems and ValueSets, for ``:above``, ``:below``, ``:in`` and ``:not-in``
    terminology: Terminology | None = None
    #: compartment search (``Patient/[id]/[type]``): only resources in this compartment
    compartment: Compartment | None = None


def parse_search(resource_type: str | None, pairs: Sequence[tuple[str, str]], registry: ParamLookup,
                 options: ParseOptions) -> SearchQuery:
    """Parse the query-string (or form) pairs of a search on ``resource_type`` (None: all types)."""
    criteria: list[Criterion] = []
    echo: list[tuple[str, str]] = []
    problems: list[Issue] = []
    for name, raw in pairs:
        if name in RESULT_PARAMETERS or name.partition(":")[0] in INCLUDE_PARAMETERS:
            continue
        try:
            criteria.append(_criterion(name, raw, resource_type, registry, options, 0))
            echo.append((name, raw))
        except UnknownParameter as exc:
            if not options.lenient:
                problems.extend(exc.issues)
    if problems:
        raise UnknownParameter(problems[0].diagnostics, issues=problems)
    sort = _sort(resource_type, pairs, registry, options)
    raw_cursor = _last(pairs, "_cursor")
    position = None if raw_cursor is None else decode_cursor(raw_cursor, sort)
    plain = position is not None and not position.values and not position.backward
    return SearchQuery(
        resource_type=resource_type,
        criteria=tuple(criteria),
        count=_count(pairs, options.default_count),
        after=position.pk if plain and position is not None else None,
        total=_total(pairs),
        echo=tuple(echo),
        sort=sort,
        position=None if plain else position,
        compartment=options.compartment,
    )


def _sort(resource_type: str | None, pairs: Sequence[tuple[str, str]], registry: ParamLookup,
          options: ParseOptions) -> tuple[SortKey, ...]:
    """``_sort=a,-b`` (https://hl7.org/fhir/R4/search.html#sort): keys in order, ``-`` for descending."""
    raw = _last(pairs, "_sort")
    if not raw:
        return ()
    known = _known_params(resource_type, registry)
    keys: list[SortKey] = []
    for part in raw.split(","):
        code = part.removeprefix("-")
        param = known.get(code)
        if param is None:
            raise _unsupported("_sort", f"_sort: '{code}' is not a search parameter of "
                                        f"{resource_type or 'every resource type'}.")
        kind = _kind(code, _declared(param))
        if kind not in SORTABLE:
            raise _unsupported("_sort", f"_sort: '{code}' is a {kind} parameter; results cannot be sorted by it.")
        if options.blinder is not None and resource_type and is_blind(resource_type, code):
            raise _unsupported("_sort", f"_sort: '{code}' is stored as a keyed digest (blind index), which has "
                                        "no meaningful order; sort by another parameter.")
        keys.append(SortKey(code, kind, part.startswith("-")))
    return tuple(keys)


def _known_params(resource_type: str | None, registry: ParamLookup) -> Mapping[str, Any]:
    if resource_type is None:
        common = registry.params_for("Patient")
        return {k: v for k, v in common.items() if k in COMMON_PARAMETERS}
    return registry.params_for(resource_type)


def _criterion(name: str, raw: str, resource_type: str | None, registry: ParamLookup, options: ParseOptions,
               depth: int) -> Criterion:
    where = resource_type or "all resource types"
    if depth > MAX_CHAIN_DEPTH:
        raise _unsupported(name, f"'{name}' chains more than {MAX_CHAIN_DEPTH} levels; search in steps.")
    if name.startswith("_has:"):
        return _reverse(name, raw, resource_type, registry, options, depth)
    head, dot, rest = name.partition(".")
    if dot:
        return _chain(head, rest, name, raw, resource_type, registry, options, depth)
    known = _known_params(resource_type, registry)
    code, _, modifier = name.partition(":")
    if code == "_has" or (code.startswith("_") and code not in known):
        raise _unsupported(name, f"'{name}' is not a search parameter this server supports for {where}.")
    param = known.get(code)
    if param is None:
        raise _unsupported(name, f"Unknown search parameter '{code}' for {where}; see GET /metadata "
                                 "for the supported parameters, or send Prefer: handling=lenient.")
    kind = _kind(code, str(getattr(param.type, "value", param.type)))
    check_modifier(name, code, kind, modifier, param, resource_type)
    if modifier == "missing":
        if raw not in ("true", "false"):
            raise BadRequest(f"'{name}' takes true or false.")
        return _blinded(resource_type, Criterion(code, kind, modifier, (), missing=raw == "true"), options)
    parts = [part for part in qv.split_unescaped(raw, ",") if part]
    if not parts:
        raise BadRequest(f"Search parameter '{name}' has no value; give one or leave it out.")
    criterion = build_criterion(code, kind, modifier or None, parts, name, param, options.base_url,
                                options.terminology)
    return _blinded(resource_type, criterion, options)


def _blinded(resource_type: str | None, criterion: Criterion, options: ParseOptions) -> Criterion:
    """``criterion`` on ``resource_type`` as the index stores it: digests for blind-indexed parameters
    (``ehr.search.blind``), at every link of a chain."""
    return criterion if options.blinder is None else options.blinder.criterion(resource_type, criterion)


def _chain(head: str, rest: str, name: str, raw: str, resource_type: str | None, registry: ParamLookup,
           options: ParseOptions, depth: int) -> Criterion:
    """``param[:Type].rest``: the targets are ``Type``, or every target type of ``param`` on which the
    next link of the chain is a search parameter."""
    code, _, target = head.partition(":")
    param = _known_params(resource_type, registry).get(code) if resource_type else None
    if param is None or _declared(param) != "reference":
        raise _unsupported(name, f"'{code}' is not a reference search parameter of "
                                 f"{resource_type or 'every resource type'}, so it cannot be chained.")
    next_code = rest.partition(".")[0].partition(":")[0]
    targets = [target] if target else list(getattr(param, "targets", ()))
    if target and target not in getattr(param, "targets", ()):
        raise _unsupported(name, f"'{code}' cannot point at a {target}; it points at "
                                 f"{', '.join(getattr(param, 'targets', ())) or 'nothing searchable'}.")
    usable = [t for t in targets if next_code == "_has" or _has_param(registry, t, next_code)]
    if not usable:
        raise _unsupported(name, f"None of the types '{code}' points at ({', '.join(targets)}) has a search "
                                 f"parameter '{next_code}'; name the type with '{code}:[Type].{next_code}'.")
    inner = tuple((t, _criterion(rest, raw, t, registry, options, depth + 1)) for t in usable)
    return Criterion(code, "reference", None, (), link=Chain(inner))


def _reverse(name: str, raw: str, resource_type: str | None, registry: ParamLookup, options: ParseOptions,
             depth: int) -> Criterion:
    """``_has:Type:param:rest``: a ``Type`` resource refers to this one through ``param`` and meets
    ``rest``."""
    parts = name.split(":", 3)
    if len(parts) < 4 or not all(parts[1:]):
        raise _unsupported(name, f"'{name}' must be written _has:[Type]:[reference parameter]:[parameter].")
    _, source, code, rest = parts
    if resource_type is None:
        raise _unsupported(name, "_has needs a resource type to search; search [type]?_has:...")
    try:
        param = registry.params_for(source).get(code)
    except KeyError:
        raise _unsupported(name, f"'{source}' in '{name}' is not a resource type this server serves.") from None
    if param is None or _declared(param) != "reference":
        raise _unsupported(name, f"'{code}' is not a reference search parameter of {source}.")
    if getattr(param, "targets", ()) and resource_type not in param.targets:
        raise _unsupported(name, f"{source}.{code} never points at a {resource_type}.")
    inner = _criterion(rest, raw, source, registry, options, depth + 1)
    return Criterion("_has", "reference", None, (), link=Reverse(source, code, inner))


def _declared(param: Any) -> str:
    return str(getattr(param.type, "value", param.type))


def _has_param(registry: ParamLookup, resource_type: str, code: str) -> bool:
    try:
        return code in registry.params_for(resource_type)
    except KeyError:
        return False


def _kind(code: str, declared: str) -> ParamType:
    if code == "_id":
        return "id"
    if code == "_lastUpdated":
        return "lastUpdated"
    if declared in ("token", "string", "reference", "date", "number", "quantity", "uri", "composite"):
        return declared  # type: ignore[return-value]
    raise _unsupported(code, f"Search parameter '{code}' is of type {declared}, not supported yet.")


def _count(pairs: Sequence[tuple[str, str]], default: int) -> int:
    raw = _last(pairs, "_count")
    if raw is None:
        return default
    if not raw.isdigit():
        raise BadRequest(f"_count must be a non-negative whole number, not '{raw}'.")
    return min(int(raw), MAX_COUNT)


def _total(pairs: Sequence[tuple[str, str]]) -> TotalMode:
    raw = _last(pairs, "_total") or "none"
    if raw not in ("none", "estimate", "accurate"):
        raise BadRequest(f"_total must be none, estimate or accurate, not '{raw}'.")
    return raw  # type: ignore[return-value]


def _last(pairs: Sequence[tuple[str, str]], name: str) -> str | None:
    found = [v for k, v in pairs if k == name]
    return found[-1] if found else None
