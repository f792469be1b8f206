"""Rewriting references inside a transaction: ``urn:uuid:`` full URLs and conditional references
(``Patient?identifier=...``) become ``Type/id`` (https://hl7.org/fhir/R4/http.html#trules)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def rewrite_references(node: Any, resolve: Callable[[str], str | None]) -> Any:
    """Replace every ``reference`` string that ``resolve`` maps; returns the (mutated) node."""
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "reference" and isinstance(value, str):
                mapped = resolve(value)
                if mapped is not None:
                    node[key] = mapped
            elif isinstance(value, dict | list):
                rewrite_references(value, resolve)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, dict | list):
                rewrite_references(item, resolve)
    return node


def is_conditional(reference: str) -> bool:
    head, sep, _ = reference.partition("?")
    return bool(sep) and "/" not in head and head[:1].isupper()
