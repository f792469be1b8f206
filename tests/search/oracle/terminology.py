"""The oracle's terminology: the codes ``:above``, ``:below``, ``:in`` and ``:not-in`` stand for, read from
the stored CodeSystem and ValueSet JSON, written apart from ``ehr.search.terminology``.

- A CodeSystem's is-a hierarchy is the nesting of ``concept`` and the ``parent`` / ``child`` concept
  properties (https://hl7.org/fhir/R4/codesystem.html#hierarchy); a code can have several parents.
- A ValueSet is its ``compose`` (https://hl7.org/fhir/R4/valueset.html#compose): each ``include`` is its
  concept list, or its whole system narrowed by every filter (all must hold), intersected with the ValueSets
  it names; the ``exclude`` parts are taken away. Without ``compose``, it is its ``expansion.contains``
  (nested, abstract entries without a code skipped). A whole system (no concept, no filter) whose complete
  CodeSystem is not stored is every code of that system: ``(system, None)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

Code = tuple[str, str | None]


class Terms:
    """The stored CodeSystems and ValueSets, by canonical URL (a ``|version`` suffix ignored) and, for the
    ``:in`` value "a URI (relative or absolute) that identifies a value set", by ``ValueSet/[id]``."""

    def __init__(self, resources: Iterable[dict[str, Any]]) -> None:
        self.by_url: dict[tuple[str, str], dict[str, Any]] = {}
        for r in resources:
            if r["resourceType"] == "ValueSet":
                self.by_url[("ValueSet", f"ValueSet/{r['id']}")] = r
            if r["resourceType"] in ("CodeSystem", "ValueSet") and "url" in r:
                self.by_url[(r["resourceType"], r["url"])] = r
        self._parents: dict[str, dict[str, set[str]]] = {}

    def _get(self, resource_type: str, url: str) -> dict[str, Any]:
        found = self.by_url.get((resource_type, url.split("|")[0]))
        assert found is not None, f"the oracle has no {resource_type} {url}: the server would refuse this search"
        return found

    # -- CodeSystem hierarchy ------------------------------------------------------------------------
    def parents(self, system: str) -> dict[str, set[str]]:
        """Each code of the CodeSystem ``system`` and its direct parents."""
        if system not in self._parents:
            self._parents[system] = self._links(system)
        return self._parents[system]

    def _links(self, system: str) -> dict[str, set[str]]:
        cs = self._get("CodeSystem", system)
        assert cs.get("content", "complete") == "complete", system
        links: dict[str, set[str]] = {}

        def walk(concepts: list[dict[str, Any]], parent: str | None) -> None:
            for c in concepts:
                links.setdefault(c["code"], set())
                if parent is not None:
                    links[c["code"]].add(parent)
                for p in c.get("property", []):
                    if p["code"] == "parent":
                        links[c["code"]].add(p["valueCode"])
                    elif p["code"] == "child":
                        links.setdefault(p["valueCode"], set()).add(c["code"])
                walk(c.get("concept", []), c["code"])

        walk(cs.get("concept", []), None)
        return links

    def ancestors(self, system: str, code: str) -> set[str]:
        """``code`` and every code that subsumes it."""
        links = self.parents(system)
        found, todo = {code}, [code]
        while todo:
            for p in links.get(todo.pop(), set()) - found:
                found.add(p)
                todo.append(p)
        return found

    def descendants(self, system: str, code: str) -> set[str]:
        """``code`` and every code it subsumes."""
        links = self.parents(system)
        return {c for c in links if code in self.ancestors(system, c)} | {code}

    # -- ValueSet expansion --------------------------------------------------------------------------
    def expand(self, url: str) -> set[Code]:
        vs = self._get("ValueSet", url)
        compose = vs.get("compose")
        if compose is None:
            return set(_contained(vs.get("expansion", {}).get("contains", [])))
        codes: set[Code] = set()
        for part in compose.get("include", []):
            codes |= self._part(part)
        for part in compose.get("exclude", []):
            gone = self._part(part)
            whole = {system for system, code in gone if code is None}
            assert not any((system, None) in codes for system, code in gone if code is not None), part
            codes = {c for c in codes - gone if c[0] not in whole}
        return codes

    def contains(self, codes: set[Code], system: str | None, code: str | None) -> bool:
        """Whether the token ``system|code`` is one of ``codes``."""
        return (system, code) in codes or (system is not None and (system, None) in codes)

    def _part(self, part: dict[str, Any]) -> set[Code]:
        found: set[Code] | None = None
        if "system" in part:
            system = part["system"]
            stored = self.by_url.get(("CodeSystem", system))
            if "concept" in part:
                found = {(system, c["code"]) for c in part["concept"]}
            elif "filter" not in part and (stored is None or stored.get("content", "complete") != "complete"):
                found = {(system, None)}
            else:
                codes = set(self.parents(system))
                for rule in part.get("filter", []):
                    codes &= self._filtered(system, rule)
                found = {(system, c) for c in codes}
        for url in part.get("valueSet", []):
            inner = self.expand(url)
            found = inner if found is None else {c for c in found | inner
                                                 if self.contains(found, *c) and self.contains(inner, *c)}
        assert found is not None, part
        return found

    def _filtered(self, system: str, rule: dict[str, str]) -> set[str]:
        assert rule["property"] == "concept", rule
        op, value = rule["op"], rule["value"]
        if op == "is-a":
            return self.descendants(system, value)
        if op == "descendent-of":
            return self.descendants(system, value) - {value}
        if op == "is-not-a":
            return set(self.parents(system)) - self.descendants(system, value)
        if op == "in":
            return {c.strip() for c in value.split(",")}
        assert op == "=", op
        return {value}


def _contained(contains: list[dict[str, Any]]) -> Iterable[Code]:
    for item in contains:
        if "code" in item and "system" in item:
            yield item["system"], item["code"]
        yield from _contained(item.get("contains", []))
