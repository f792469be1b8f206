"""Terminology for the token modifiers ``:above``, ``:below``, ``:in`` and ``:not-in``, from CodeSystem
and ValueSet resources stored in the server (no external terminology service).

- ``:below`` / ``:above`` (https://hl7.org/fhir/R4/search.html#token): the code and the codes it
  subsumes (is subsumed by), from the stored CodeSystem whose ``url`` is the search value's system.
  The hierarchy is the nesting of ``CodeSystem.concept`` and the ``parent`` / ``child`` concept
  properties (https://hl7.org/fhir/R4/codesystem.html#hierarchy).
- ``:in`` / ``:not-in``: the codes of the stored ValueSet whose ``url`` is the search value (or, for a
  relative ``ValueSet/[id]``, of that id: :class:`Terminology` finds it), expanded
  from ``compose`` (https://hl7.org/fhir/R4/valueset.html#compose): included and excluded concepts
  listed explicitly, whole code systems and ``is-a`` / ``descendent-of`` / ``is-not-a`` / ``in`` /
  ``=`` (on ``concept``) filters over stored CodeSystems, and other stored ValueSets; else from a stored
  ``expansion``. A whole code system whose complete CodeSystem is not stored here (LOINC, SNOMED CT:
  R4's ``observation-codes`` ValueSet is all of LOINC) stands for every code of that system,
  ``(system, None)``, searched as ``system|`` ("all codes in the code system", valueset.html#compose);
  codes can then be excluded from it only when the CodeSystem is stored. Anything else cannot be
  expanded here, and the search is refused saying why.

Expansion is pure: :class:`Terminology` hands over the stored resources (JSON), and the functions here
compute code sets from them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from ehr.errors import BadRequest, Issue

#: codes one expansion may produce at most (each becomes a value of the search)
MAX_CODES = 10_000
#: ValueSets nested through ``compose.include.valueSet`` followed at most
MAX_DEPTH = 8

#: (system, code); a code of None: every code of the system (a whole code system not stored here)
Code = tuple[str, str | None]


class Terminology(Protocol):
    """Stored terminology resources by canonical URL (a ``|version`` suffix is not part of it)."""

    def code_system(self, url: str) -> Mapping[str, Any] | None: ...

    def value_set(self, url: str) -> Mapping[str, Any] | None: ...


class CannotExpand(BadRequest):
    """A ValueSet or CodeSystem hierarchy the server cannot compute from what it stores."""

    def __init__(self, name: str, why: str) -> None:
        message = f"Search on '{name}' cannot be answered: {why}."
        super().__init__(message, issues=[Issue(message, code="not-supported", expression=(name,))])


@dataclass(slots=True)
class Hierarchy:
    """The concepts of a CodeSystem and their is-a links."""

    codes: list[str] = field(default_factory=list)
    parents: dict[str, set[str]] = field(default_factory=dict)
    children: dict[str, set[str]] = field(default_factory=dict)

    def link(self, child: str, parent: str) -> None:
        self.parents.setdefault(child, set()).add(parent)
        self.children.setdefault(parent, set()).add(child)

    def closure(self, code: str, direction: Literal["below", "above"]) -> list[str]:
        """``code`` and every code below (or above) it, ``code`` first."""
        links = self.children if direction == "below" else self.parents
        found = [code]
        seen = {code}
        for current in found:
            for nxt in sorted(links.get(current, ())):
                if nxt not in seen:
                    seen.add(nxt)
                    found.append(nxt)
        return found


def hierarchy(code_system: Mapping[str, Any]) -> Hierarchy:
    """The concepts of ``code_system``: nested ``concept`` lists and ``parent``/``child`` properties."""
    out = Hierarchy()
    stack: list[tuple[Any, str | None]] = [(c, None) for c in reversed(_list(code_system.get("concept")))]
    while stack:
        concept, parent = stack.pop()
        code = concept.get("code") if isinstance(concept, Mapping) else None
        if not isinstance(code, str):
            continue
        out.codes.append(code)
        if parent is not None:
            out.link(code, parent)
        for prop in _list(concept.get("property")):
            value = prop.get("valueCode") if isinstance(prop, Mapping) else None
            if isinstance(value, str) and prop.get("code") in ("parent", "subsumedBy"):
                out.link(code, value)
            elif isinstance(value, str) and prop.get("code") == "child":
                out.link(value, code)
        stack.extend((child, code) for child in reversed(_list(concept.get("concept"))))
    return out


def subsumption(terminology: Terminology, name: str, system: str | None, code: str | None,
                direction: Literal["below", "above"]) -> list[Code]:
    """``system|code`` and the codes it subsumes (``below``) or that subsume it (``above``)."""
    if not system or not code:
        raise CannotExpand(name, f":{direction} on a code needs both its system and the code "
                                 "(system|code), so that the stored CodeSystem can be found")
    found = _complete_code_system(terminology, name, system, f":{direction}")
    return [(system, c) for c in hierarchy(found).closure(code, direction)]


def expand(terminology: Terminology, name: str, url: str) -> list[Code]:
    """The codes of the stored ValueSet ``url``; :class:`CannotExpand` saying why when it cannot be."""
    codes = list(_expand(terminology, name, url.split("|", 1)[0], ()))
    if len(codes) > MAX_CODES:
        raise CannotExpand(name, f"ValueSet {url} has more than {MAX_CODES} codes; search with a smaller one")
    return codes


def _expand(terminology: Terminology, name: str, url: str, trail: tuple[str, ...]) -> dict[Code, None]:
    if url in trail or len(trail) >= MAX_DEPTH:
        raise CannotExpand(name, f"ValueSet {url} includes itself (through {' -> '.join(trail)})")
    value_set = terminology.value_set(url)
    if value_set is None:
        raise CannotExpand(name, f"no ValueSet with url {url} is stored on this server; store it first "
                                 "(POST /ValueSet) or use a token search")
    compose = value_set.get("compose")
    if not isinstance(compose, Mapping):
        contains = _list(_mapping(value_set.get("expansion")).get("contains"))
        if contains:
            return dict.fromkeys(_contained(contains))
        raise CannotExpand(name, f"ValueSet {url} has neither compose nor expansion.contains")
    trail = (*trail, url)
    codes: dict[Code, None] = {}
    for include in _list(compose.get("include")):
        codes.update(dict.fromkeys(_set(terminology, name, include, trail)))
    for exclude in _list(compose.get("exclude")):
        for system, gone in _set(terminology, name, exclude, trail):
            if gone is None:  # a whole system excluded: every code of it goes
                codes = {c: None for c in codes if c[0] != system}
            elif (system, None) in codes:
                raise CannotExpand(name, f"ValueSet {url} excludes codes from the whole of code system {system}, "
                                         "whose concepts are not stored here; store that CodeSystem (content "
                                         "'complete') first")
            else:
                codes.pop((system, gone), None)
    return codes


def _contained(contains: Iterable[Any]) -> Iterator[Code]:
    for item in contains:
        if not isinstance(item, Mapping):
            continue
        if isinstance(item.get("system"), str) and isinstance(item.get("code"), str):
            yield item["system"], item["code"]
        yield from _contained(_list(item.get("contains")))


def _set(terminology: Terminology, name: str, part: Any, trail: tuple[str, ...]) -> list[Code]:
    """The codes of one ``include`` / ``exclude``: its system part intersected with its value sets."""
    if not isinstance(part, Mapping):
        return []
    found: dict[Code, None] | None = None
    system = part.get("system")
    if isinstance(system, str):
        found = dict.fromkeys(_system_part(terminology, name, system, part))
    for nested in _list(part.get("valueSet")):
        if not isinstance(nested, str):
            continue
        codes = _expand(terminology, name, nested.split("|", 1)[0], trail)
        found = codes if found is None else _both(found, codes)
    if found is None:
        raise CannotExpand(name, f"ValueSet {trail[-1]} has an include or exclude with neither system nor "
                                 "valueSet")
    return list(found)


def _both(first: dict[Code, None], second: dict[Code, None]) -> dict[Code, None]:
    """The codes in both sets, where ``(system, None)`` holds every code of that system."""
    whole_first = {s for s, c in first if c is None}
    whole_second = {s for s, c in second if c is None}
    kept = [c for c in first if c in second or c[0] in whole_second]
    kept += [c for c in second if c[0] in whole_first and c[1] is not None]
    return dict.fromkeys(kept)


def _system_part(terminology: Terminology, name: str, system: str, part: Mapping[str, Any]) -> list[Code]:
    concepts = _list(part.get("concept"))
    if concepts:
        return [(system, c["code"]) for c in concepts if isinstance(c, Mapping) and isinstance(c.get("code"), str)]
    stored = terminology.code_system(system)
    if not _list(part.get("filter")) and (stored is None or stored.get("content") not in (None, "complete")):
        return [(system, None)]  # the whole system, whose codes are not all known here
    found = hierarchy(_complete_code_system(terminology, name, system, f"a ValueSet including codes of {system} "
                                                                         "by filter or as a whole"))
    codes: dict[str, None] = dict.fromkeys(found.codes)
    for rule in _list(part.get("filter")):
        codes = {c: None for c in _filtered(name, found, rule) if c in codes}
    return [(system, c) for c in codes]


def _filtered(name: str, found: Hierarchy, rule: Any) -> list[str]:
    """The codes of ``found`` a ``compose.include.filter`` keeps."""
    prop, op, value = (_mapping(rule).get(k) for k in ("property", "op", "value"))
    if prop != "concept" or not isinstance(value, str):
        raise CannotExpand(name, f"a ValueSet filter on property {prop!r} is not supported; only filters on "
                                 "'concept' (is-a, descendent-of, is-not-a, in, =) can be expanded here")
    match op:
        case "is-a":
            return found.closure(value, "below")
        case "descendent-of":
            return found.closure(value, "below")[1:]
        case "is-not-a":
            below = set(found.closure(value, "below"))
            return [c for c in found.codes if c not in below]
        case "in":
            return [c.strip() for c in value.split(",")]
        case "=":
            return [value]
        case _:
            raise CannotExpand(name, f"the ValueSet filter operator {op!r} is not supported; use is-a, "
                                     "descendent-of, is-not-a, in or =")


def _complete_code_system(terminology: Terminology, name: str, system: str, what: str) -> Mapping[str, Any]:
    found = terminology.code_system(system)
    if found is None:
        raise CannotExpand(name, f"{what} needs the concepts of code system {system}, and no CodeSystem with "
                                 "that url is stored on this server; store it first (POST /CodeSystem)")
    content = found.get("content")
    if content not in (None, "complete"):
        raise CannotExpand(name, f"the stored CodeSystem {system} has content '{content}', so its concepts "
                                 "are not known here; store it with content 'complete'")
    return found


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _mapping(value: Any) -> Mapping[str, Any]:
    return value if isinstance(value, Mapping) else {}
