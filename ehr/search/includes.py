"""``_include`` and ``_revinclude`` (https://hl7.org/fhir/R4/search.html#include): which referenced (or
referring) resources to add to a page of matches, parsed once per search.

``_include=[source]:[param](:[target])`` adds what the page's ``source`` resources point at through
``param``; ``*`` follows every reference parameter. ``_revinclude=[source]:[param](:[target])`` adds the
``source`` resources that point at the page through ``param``. The ``:iterate`` modifier (R3's
``:recurse`` too) applies the same rule again to what was included, up to :data:`MAX_ITERATIONS` rounds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ehr.errors import Issue, UnknownParameter

#: rounds of ``:iterate`` followed at most
MAX_ITERATIONS = 3
#: resources one page may include at most
MAX_INCLUDED = 1000


class ParamLookup(Protocol):
    def params_for(self, resource_type: str) -> Mapping[str, Any]: ...


@dataclass(frozen=True, slots=True)
class Include:
    """One ``_include`` (``reverse`` False) or ``_revinclude`` (True) value."""

    reverse: bool
    #: the type holding the reference; None for ``*``
    source: str | None
    #: the reference parameter; None for ``*`` (every reference parameter)
    param: str | None
    #: only targets of this type; None for any
    target: str | None
    iterate: bool


def parse_includes(resource_type: str | None, pairs: Sequence[tuple[str, str]], registry: ParamLookup, *,
                   lenient: bool) -> tuple[list[Include], list[tuple[str, str]]]:
    """The includes asked for, and the pairs understood (for the ``self`` link). Unknown types or
    parameters are a 400 unless ``lenient``."""
    found: list[Include] = []
    echo: list[tuple[str, str]] = []
    problems: list[Issue] = []
    for name, raw in pairs:
        base, _, modifier = name.partition(":")
        if base not in ("_include", "_revinclude"):
            continue
        try:
            if modifier not in ("", "iterate", "recurse"):
                raise _bad(name, f"'{name}': the only modifier of {base} is :iterate.")
            found.append(_parse(base == "_revinclude", raw, modifier != "", resource_type, registry, name))
            echo.append((name, raw))
        except UnknownParameter as exc:
            if not lenient:
                problems.extend(exc.issues)
    if problems:
        raise UnknownParameter(problems[0].diagnostics, issues=problems)
    return found, echo


def _parse(reverse: bool, raw: str, iterate: bool, resource_type: str | None, registry: ParamLookup,
           name: str) -> Include:
    if raw == "*":
        return Include(reverse, None, None, None, iterate)
    parts = raw.split(":")
    if len(parts) not in (2, 3) or not all(parts):
        raise _bad(name, f"{name}={raw!r} must be [Type]:[parameter] or [Type]:[parameter]:[target type].")
    source, param, target = parts[0], parts[1], parts[2] if len(parts) == 3 else None
    if not reverse and not iterate and resource_type is not None and source != resource_type:
        raise _bad(name, f"{name}={raw!r} names {source}, but this search returns {resource_type}; "
                         f"use _include:iterate to follow references of included resources.")
    try:
        definition = registry.params_for(source).get(param)
    except KeyError:
        raise _bad(name, f"'{source}' in {name}={raw!r} is not a resource type this server serves.") from None
    if definition is None or str(getattr(definition.type, "value", definition.type)) != "reference":
        raise _bad(name, f"'{param}' is not a reference search parameter of {source}.")
    targets = tuple(getattr(definition, "targets", ()))
    if target is not None and targets and target not in targets:
        raise _bad(name, f"{source}.{param} never points at a {target}; it points at {', '.join(targets)}.")
    return Include(reverse, source, param, target, iterate)


def _bad(name: str, message: str) -> UnknownParameter:
    return UnknownParameter(message, issues=[Issue(message, code="not-supported", expression=(name,))])
