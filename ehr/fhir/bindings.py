"""Required terminology bindings: a ``code`` element bound *required* to a value set may only hold one
of that value set's codes (https://hl7.org/fhir/R4/terminologies.html#required). The R4B models do not
check bindings (``"gender": "bogus"`` passes them), so writes are checked here.

The bindings and their codes come from the official R4 definitions
(``ehr/fhir/data/required_bindings.json``, derived by ``scripts/derive_search_parameters.py``); value
sets that the package does not enumerate completely (MIME types, languages, currencies) are not
checked. The walk only descends into elements that can contain a bound code, so Codings, References,
Meta and the like are skipped.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources as package_files
from typing import Any

from ehr.errors import Issue
from ehr.fhir.jsonio import element, element_types

#: a value set's codes are listed in full in a message up to this many
_LISTED = 12


@cache
def required_bindings() -> dict[str, tuple[str, frozenset[str]]]:
    """Element path (``Patient.gender``) -> (value set URL, its codes)."""
    text = package_files.files("ehr.fhir").joinpath("data/required_bindings.json").read_text("utf-8")
    raw: dict[str, dict[str, Any]] = json.loads(text)
    return {path: (str(b["valueSet"]), frozenset(b["codes"])) for path, b in raw.items()}


@cache
def _reaches_binding() -> frozenset[str]:
    """Definitions (type names and backbone element paths) under which some bound code can occur."""
    bound = required_bindings()
    children: dict[str, set[str]] = {}
    for path, types in element_types().items():
        parent = path.rsplit(".", 1)[0]
        for kind in types:
            if kind in ("BackboneElement", "Element"):
                children.setdefault(parent, set()).add(path)
            elif kind[:1].isupper():
                children.setdefault(parent, set()).add(kind)
    reaching = {path.rsplit(".", 1)[0] for path in bound}
    changed = True
    while changed:
        changed = False
        for parent, kids in children.items():
            if parent not in reaching and kids & reaching:
                reaching.add(parent)
                changed = True
    return frozenset(reaching)


def check_bindings(resource: dict[str, Any]) -> list[Issue]:
    """One issue per bound code element of ``resource`` (already shape-checked) whose value is not
    in its value set; empty when all are."""
    resource_type = str(resource.get("resourceType", ""))
    issues: list[Issue] = []
    _walk(resource, resource_type, resource_type, issues)
    return issues


def _walk(node: dict[str, Any], definition: str, where: str, issues: list[Issue]) -> None:
    reaching = _reaches_binding()
    bound = required_bindings()
    for key, value in node.items():
        if key == "resourceType" or key[:1] == "_":
            continue
        kind, child = element(definition, key)
        if kind == "code":
            binding = bound.get(f"{definition}.{key}")
            if binding is not None:
                _check_codes(value, binding, f"{where}.{key}", issues)
            continue
        if kind == "Resource" or child in reaching:
            for index, item in _items(value):
                if isinstance(item, dict):
                    inner = str(item.get("resourceType", "")) if kind == "Resource" else str(child)
                    _walk(item, inner, f"{where}.{key}{index}", issues)


def _items(value: Any) -> list[tuple[str, Any]]:
    if isinstance(value, list):
        return [(f"[{i}]", item) for i, item in enumerate(value)]
    return [("", value)]


def _check_codes(value: Any, binding: tuple[str, frozenset[str]], where: str, issues: list[Issue]) -> None:
    url, codes = binding
    for index, item in _items(value):
        if item is None or item in codes:
            continue
        path = where + index
        allowed = " | ".join(sorted(codes)) if len(codes) <= _LISTED else f"{len(codes)} codes"
        issues.append(Issue(
            f"{path}: {str(item)[:64]!r} is not a code of the required value set {url} ({allowed}); "
            "use one of its codes.",
            code="code-invalid", expression=(path,)))
