"""The oracle: which stored resources a search matches, which it includes and in what order, computed
from the raw resources alone (https://hl7.org/fhir/R4/search.html).

It parses the query pairs itself (escapes, prefixes, ``system|code``, ``a$b``, chains, ``_has``), evaluates
each parameter's FHIRPath expression with fhirpathpy (:mod:`tests.search.oracle.values`) and applies the rules
of :mod:`tests.search.oracle.matching`, with the stored terminology of :mod:`tests.search.oracle.terminology`.
Only the SearchParameter definitions (code, type, expression, targets, components) are shared with the
server: they are the official R4 ones.

Modifiers (https://hl7.org/fhir/R4/search.html#modifiers): ``:not`` and ``:not-in`` negate the whole OR
list (a resource without a value matches); ``:above`` / ``:below`` on a token follow the stored CodeSystem's
is-a hierarchy, on a uri the URL's path segments; ``:of-type`` is an Identifier's type coding and value;
``:identifier`` is ``Reference.identifier``; ``:[type]`` types a reference value given as an id. A
composite value matches when every component matches within one element the composite's expression
selects (https://hl7.org/fhir/R4/search.html#composite); a composite is missing when no element has a value
for every component.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ehr.search.registry import Registry, SearchParam
from tests.search.oracle import matching as m
from tests.search.oracle import values as v
from tests.search.oracle.terminology import Terms

PREFIXES = ("eq", "ne", "gt", "lt", "ge", "le", "sa", "eb", "ap")
Key = tuple[str, str]


def split_unescaped(text: str, sep: str) -> list[str]:
    """Split on ``sep`` unless escaped with a backslash (https://hl7.org/fhir/R4/search.html#escaping)."""
    parts, current, i = [], "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text):
            current += text[i : i + 2]
            i += 2
            continue
        if text[i] == sep:
            parts.append(current)
            current = ""
        else:
            current += text[i]
        i += 1
    return [*parts, current]


def unescape(text: str) -> str:
    out, i = "", 0
    while i < len(text):
        if text[i] == "\\" and i + 1 < len(text) and text[i + 1] in ",|$\\":
            out += text[i + 1]
            i += 2
        else:
            out += text[i]
            i += 1
    return out


def prefixed(raw: str) -> tuple[str, str]:
    """A prefix and the value after it; a number may start with a sign or a point (``gt-5``, ``lt.5``)."""
    if raw[:2] in PREFIXES and raw[2:3] != "" and raw[2:3] in "0123456789-+.":
        return raw[:2], raw[2:]
    return "eq", raw


@dataclass(frozen=True)
class Answer:
    """Matches (``Type/id``) of a search, the least ``ap`` must find when ``floor`` is set."""

    matches: frozenset[str]
    floor: bool = False


def disagreement(query: object, expected: Answer, found: list[str]) -> str | None:
    """How the matches an engine ``found`` (``Type/id``, in its order) differ from the oracle's answer to
    ``query``, or None when they agree."""
    got = set(found)
    if len(found) != len(got):
        return f"{query}: duplicates {sorted(found)}"
    ok = expected.matches <= got if expected.floor else expected.matches == got
    if ok:
        return None
    return (f"{query}: server has {sorted(got - expected.matches)} too many, "
            f"misses {sorted(expected.matches - got)}")


class Oracle:
    def __init__(self, resources: Iterable[dict[str, Any]], registry: Registry, base_url: str) -> None:
        self.store: dict[Key, dict[str, Any]] = {(r["resourceType"], r["id"]): r for r in resources}
        self.registry = registry
        self.base = base_url.rstrip("/") + "/"
        self._cache: dict[tuple[Key, str], list[Any]] = {}
        self._elements: dict[tuple[Key, str], list[list[list[Any]]]] = {}
        self.terms = Terms(self.store.values())
        self.approximate = False

    # -- values --------------------------------------------------------------------------------------
    def param(self, resource_type: str, code: str) -> SearchParam | None:
        return self.registry.params_for(resource_type).get(code)

    def nodes(self, resource: dict[str, Any], code: str) -> list[Any]:
        key = ((resource["resourceType"], resource["id"]), code)
        if key not in self._cache:
            if code == "_id":
                found: list[Any] = [resource["id"]]
            elif code == "_lastUpdated":
                found = [resource["meta"]["lastUpdated"]]
            else:
                sp = self.param(resource["resourceType"], code)
                found = [] if sp is None else v.evaluate(resource, sp.expression)
            self._cache[key] = found
        return self._cache[key]

    def kind(self, resource_type: str, code: str) -> str:
        if code in ("_id", "_lastUpdated"):
            return {"_id": "token", "_lastUpdated": "date"}[code]
        sp = self.param(resource_type, code)
        assert sp is not None, f"{resource_type} has no search parameter {code}"
        return sp.type.value

    def references(self, resource: dict[str, Any], code: str) -> list[v.Ref]:
        return [r for node in self.nodes(resource, code) for r in v.references(node)]

    def current(self, resource_type: str | None = None) -> list[dict[str, Any]]:
        return [r for (t, _), r in self.store.items() if resource_type in (None, t)]

    # -- criteria ------------------------------------------------------------------------------------
    def search(self, resource_type: str, pairs: Sequence[tuple[str, str]]) -> Answer:
        criteria = [(k, raw) for k, raw in pairs if not k.startswith("_") or k.split(":")[0] in
                    ("_id", "_lastUpdated", "_has", "_tag", "_profile", "_security", "_source")]
        self.approximate = False
        found = frozenset(f"{t}/{i}" for (t, i), r in self.store.items() if t == resource_type
                          and all(self.meets(r, name, raw) for name, raw in criteria))
        return Answer(found, self.approximate)

    def meets(self, resource: dict[str, Any], name: str, raw: str) -> bool:
        if name.startswith("_has:"):
            _, source, code, rest = name.split(":", 3)
            me = (resource["resourceType"], resource["id"])
            return any(self.meets(s, rest, raw) for s in self.current(source)
                       if any((r.type, r.id) == me for r in self.references(s, code)))
        head, dot, rest = name.partition(".")
        if dot:
            code, _, target = head.partition(":")
            for ref in self.references(resource, code):
                found = self.store.get((ref.type or "", ref.id or ""))
                inner = rest.partition(".")[0].split(":")[0]
                usable = inner == "_has" or self.param(found["resourceType"], inner) is not None if found else False
                if found is not None and target in ("", ref.type) and usable and self.meets(found, rest, raw):
                    return True
            return False
        code, _, modifier = name.partition(":")
        kind = self.kind(resource["resourceType"], code)
        if kind == "composite":
            return self._composite(resource, code, modifier, raw)
        nodes = self.nodes(resource, code)
        if modifier == "missing":
            return (not self._typed(kind, nodes)) == (raw == "true")
        positive = {"not": None, "not-in": "in"}.get(modifier, modifier or None)
        hit = any(self._value(kind, nodes, positive, part) for part in split_unescaped(raw, ","))
        return not hit if modifier in ("not", "not-in") else hit

    def elements(self, resource: dict[str, Any], code: str) -> list[list[list[Any]]]:
        """Per element a composite's expression selects, the nodes of each component within it; only the
        elements with a value for every component."""
        key = ((resource["resourceType"], resource["id"]), code)
        if key not in self._elements:
            sp = self.param(resource["resourceType"], code)
            assert sp is not None
            found = []
            for branch in sp.expression.split(" | "):
                for i in range(len(v.evaluate(resource, branch))):
                    element = [self._component(resource, f"{branch}[{i}]", c.expression) for c in sp.components]
                    kinds = [c.type.value for c in sp.components]
                    if all(self._typed(k, nodes) for k, nodes in zip(kinds, element, strict=True)):
                        found.append(element)
            self._elements[key] = found
        return self._elements[key]

    @staticmethod
    def _component(resource: dict[str, Any], element: str, expression: str) -> list[Any]:
        """A component's expression (relative to the element, ``value.as(Quantity)``) on one element.
        R4 writes ``as(DateTime)`` for the FHIR type ``dateTime``."""
        branches = [f"{element}.{e.replace('as(DateTime)', 'as(dateTime)')}" for e in expression.split(" | ")]
        return v.evaluate(resource, " | ".join(branches))

    def _composite(self, resource: dict[str, Any], code: str, modifier: str, raw: str) -> bool:
        elements = self.elements(resource, code)
        if modifier == "missing":
            return (not elements) == (raw == "true")
        sp = self.param(resource["resourceType"], code)
        assert sp is not None
        assert not modifier, f"{code} takes no modifier but :missing"
        kinds = [c.type.value for c in sp.components]
        for part in split_unescaped(raw, ","):
            pieces = split_unescaped(part, "$")
            assert len(pieces) == len(kinds), raw
            for element in elements:
                if all(self._value(k, nodes, None, p) for k, nodes, p in zip(kinds, element, pieces, strict=True)):
                    return True
        return False

    @staticmethod
    def _typed(kind: str, nodes: list[Any]) -> list[Any]:
        typed: dict[str, Callable[[Any], list[Any]]] = {
            "string": v.strings, "token": v.tokens, "reference": v.references, "date": v.dates,
            "number": v.numbers, "quantity": v.amounts, "uri": lambda n: [n] if isinstance(n, str) else []}
        return [x for n in nodes for x in typed[kind](n)]

    def _value(self, kind: str, nodes: list[Any], modifier: str | None, part: str) -> bool:
        if modifier == "text":  # a string search: on a token's texts, or on a reference's display
            found = [t for n in nodes for t in (v.texts(n) if kind == "token" else v.displays(n))]
            return m.match_string(found, unescape(part), None)
        typed = self._typed(kind, nodes)
        if kind == "string":
            return m.match_string(typed, unescape(part), modifier)
        if kind == "token":
            return self._token(typed, nodes, modifier, part)
        if kind == "reference":
            if modifier == "identifier":
                found = [n["identifier"] for n in nodes if isinstance(n, dict) and "identifier" in n]
                return m.match_token([t for i in found for t in v.tokens(i)], *_system_code(part))
            type_, id_, url = self._reference(unescape(part))
            return m.match_reference(typed, modifier if type_ is None and id_ else type_, id_, url)
        if kind == "uri":
            return m.match_uri(typed, unescape(part), modifier)
        prefix, text = prefixed(part)
        self.approximate = self.approximate or m.approximate_floor(prefix)
        if kind == "date":
            search = v.date_interval(text)
            assert search is not None, text
            return any(m.compare_range(prefix, search, t) for t in typed)
        pieces = split_unescaped(text, "|")
        number = v.number_interval(pieces[0])
        assert number is not None
        if kind == "number":
            return any(m.compare_number(prefix, number, t) for t in typed)
        system = unescape(pieces[1]) or None if len(pieces) > 1 else None
        unit = unescape(pieces[2]) or None if len(pieces) > 2 else None
        return m.match_quantity(typed, prefix, number, system, unit)

    def _token(self, typed: list[v.Token], nodes: list[Any], modifier: str | None, part: str) -> bool:
        if modifier == "in":
            codes = self.terms.expand(unescape(part))
            return any(self.terms.contains(codes, t.system, t.code) for t in typed)
        if modifier == "of-type":
            type_system, type_code, value = (unescape(p) for p in split_unescaped(part, "|"))
            return any(n.get("value") == value and any(c.get("system") == type_system and c.get("code") == type_code
                                                       for c in (n.get("type") or {}).get("coding", []))
                       for n in nodes if isinstance(n, dict))
        system, code = _system_code(part)
        if modifier in ("above", "below"):
            assert system, f"{part}: :{modifier} needs the system whose hierarchy it follows"
            assert code, part
            wanted = (self.terms.ancestors if modifier == "above" else self.terms.descendants)(system, code)
            return any(t.system == system and t.code in wanted for t in typed)
        return m.match_token(typed, system, code)

    def _reference(self, text: str) -> tuple[str | None, str | None, str | None]:
        if text.startswith(self.base):
            text = text[len(self.base):]
        if "://" in text:
            return None, None, text
        type_, _, id_ = text.rpartition("/")
        return type_ or None, id_, None

    # -- includes ------------------------------------------------------------------------------------
    def included(self, matches: Iterable[str], pairs: Sequence[tuple[str, str]]) -> frozenset[str]:
        """What ``_include`` / ``_revinclude`` (with ``:iterate``) add to ``matches``, until nothing new."""
        rules = [(k.split(":")[0] == "_revinclude", k.endswith(":iterate"), raw) for k, raw in pairs
                 if k.split(":")[0] in ("_include", "_revinclude")]
        seen = set(matches)
        frontier = [self.store[_key(x)] for x in seen]
        added: set[str] = set()
        first = True
        while frontier:
            fresh = {f"{r['resourceType']}/{r['id']}" for reverse, iterate, raw in rules if iterate or first
                     for r in self._follow(frontier, reverse, raw)} - seen
            seen |= fresh
            added |= fresh
            frontier = [self.store[_key(x)] for x in fresh]
            first = False
        return frozenset(added)

    def _follow(self, frontier: list[dict[str, Any]], reverse: bool, raw: str) -> list[dict[str, Any]]:
        source, code, target = ([*raw.split(":"), None][:3] if raw != "*" else [None, None, None])
        out: list[dict[str, Any]] = []
        for r in frontier:
            if reverse:
                if target not in (None, r["resourceType"]):
                    continue
                me = (r["resourceType"], r["id"])
                out.extend(s for s in self.current(source)
                           if any((ref.type, ref.id) == me for c in self._ref_codes(s, code)
                                  for ref in self.references(s, c)))
            elif source in (None, r["resourceType"]):
                for c in self._ref_codes(r, code):
                    out.extend(self.store[(ref.type, ref.id)] for ref in self.references(r, c)
                               if ref.type and ref.id and (ref.type, ref.id) in self.store
                               and target in (None, ref.type))
        return out

    def _ref_codes(self, resource: dict[str, Any], code: str | None) -> list[str]:
        if code is not None:
            return [code]
        return [c for c, p in self.registry.params_for(resource["resourceType"]).items() if p.type.value == "reference"]

    # -- sorting -------------------------------------------------------------------------------------
    def sort_key(self, key: str, sort: str) -> tuple[Any, ...]:
        """A key that orders resources as ``_sort`` asks: each parameter's smallest value ascending (largest
        with ``-``), resources without a value last (https://hl7.org/fhir/R4/search.html#sort)."""
        resource = self.store[_key(key)]
        parts: list[Any] = []
        for item in sort.split(","):
            code, descending = item.removeprefix("-"), item.startswith("-")
            found = self._sortables(resource, code, descending)
            value = (max if descending else min)(found) if found else None
            parts.append((1, 0) if value is None else (0, _Desc(value) if descending else value))
        return tuple(parts)

    def _sortables(self, resource: dict[str, Any], code: str, descending: bool) -> list[Any]:
        kind, nodes = self.kind(resource["resourceType"], code), self.nodes(resource, code)
        typed = self._typed(kind, nodes)
        if kind == "date":
            return [t.high if descending else t.low for t in typed]
        if kind == "string":
            return [v.fold(s) for s in typed]
        if kind == "token":
            return [t.code for t in typed if t.code is not None]
        if kind == "reference":
            return [r.id for r in typed if r.id]
        if kind == "quantity":
            return [Decimal(str(n["value"])) for n in nodes if isinstance(n, dict) and "value" in n]
        if kind == "number":
            return [t.low if t.point is None else t.point for t in typed]
        return list(typed)


def _system_code(part: str) -> tuple[str | None, str | None]:
    """``[system]|[code]``: system None when no ``|`` is given, "" for none; code None when empty."""
    pieces = split_unescaped(part, "|")
    system = unescape(pieces[0]) if len(pieces) > 1 else None
    code = unescape("|".join(pieces[1:]) if len(pieces) > 1 else pieces[0]) or None
    return system, code


def _key(text: str) -> Key:
    t, _, i = text.partition("/")
    return t, i


class _Desc:
    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: _Desc) -> bool:
        return bool(self.value > other.value)

    def __le__(self, other: _Desc) -> bool:
        return bool(self.value >= other.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Desc) and bool(self.value == other.value)

    def __hash__(self) -> int:
        return hash(self.value)
