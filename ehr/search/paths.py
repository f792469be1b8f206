"""Compile SearchParameter FHIRPath expressions into fast, typed walks over a resource's JSON.

Each parameter's expression is split on ``|``; the branches for the resource type at hand are parsed
into steps (field access, choice types such as ``value[x]`` -> ``valueQuantity``, ``as(T)`` /
``(... as T)``, ``where(resolve() is T)``, ``where(field='literal')``, ``[n]``), and every step's result
type is resolved at compile time from the R4 element definitions (``data/element_types.json``).  The
output of an extractor is a list of :data:`Node` pairs ``(FHIR type code, JSON value)`` so that value
extraction can dispatch on the datatype.  Anything else (``exists()``, ``extension(...)``) falls back
to ``fhirpathpy``, compiled once; its results carry the type :data:`UNKNOWN_TYPE`.

Spec: https://hl7.org/fhir/R4/search.html#ptypes (expressions), https://hl7.org/fhir/R4/fhirpath.html
"""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources

from ehr.search.registry import ParamKind, Registry, SearchParam
from ehr.search.steps import (
    QUANTITY_PROFILES,
    UNKNOWN_TYPE,
    Extractor,
    Node,
    Step,
    accepted_types,
    as_step,
    chain,
    choice_step,
    field_step,
    index_step,
    normalise_type,
    reference_type,
    resolve_step,
    union,
    where_step,
)
from ehr.search.steps import fallback as _fallback

__all__ = [
    "UNKNOWN_TYPE",
    "CompiledParam",
    "CompositeBranch",
    "Extractor",
    "Node",
    "UnsupportedPathError",
    "compile_all",
    "compile_expression",
    "compile_param",
    "compile_relative",
    "compiled_params",
    "reference_type",
    "root_keys",
    "split_branches",
    "value_types",
]

ABSTRACT_BASES = frozenset({"Resource", "DomainResource"})

_SEGMENT = re.compile(
    r"\.(?:as\((?P<as>\w+)\)|where\(resolve\(\) is (?P<resolve>\w+)\)"
    r"|where\((?P<key>\w+)\s*=\s*'(?P<literal>[^']*)'\)|(?P<field>\w+)(?:\[(?P<index>\d+)\])?)"
)
_PAREN_AS = re.compile(r"\((?P<inner>[^()]+) as (?P<type>\w+)\)(?P<rest>.*)")
_HEAD = re.compile(r"(?P<head>\w+)(?P<rest>.*)")


class UnsupportedPathError(ValueError):
    """The expression is outside the subset compiled to dict walks; the caller falls back to FHIRPath."""


@dataclass(frozen=True, slots=True)
class CompositeBranch:
    """One branch of a composite's expression, and its components compiled relative to it."""

    extract: Extractor
    components: tuple[Extractor, ...]


@dataclass(frozen=True, slots=True)
class CompiledParam:
    """A parameter with its expression compiled for one resource type.

    ``extract`` maps ``[(resource type, resource)]`` to the nodes to index.  For a composite, each of
    ``composite`` yields element nodes, and its component extractors are applied to each such node
    (https://hl7.org/fhir/R4/search.html#composite).
    """

    param: SearchParam
    extract: Extractor
    composite: tuple[CompositeBranch, ...] = ()
    #: top-level JSON keys at least one of which a resource needs for ``extract`` to find anything;
    #: None when that is not known (fallback expressions, the resource itself)
    root_keys: frozenset[str] | None = None


@functools.cache
def element_types() -> Mapping[str, tuple[str, ...]]:
    """Element path (``Observation.value[x]``, ``HumanName.family``) -> datatype codes, from R4 4.0.1."""
    text = resources.files("ehr.search").joinpath("data", "element_types.json").read_text(encoding="utf-8")
    return {path: tuple(codes) for path, codes in json.loads(text).items()}


def _lookup(context: str, name: str) -> tuple[str, tuple[str, ...], bool]:
    """Return (element path, type codes, is choice) of ``context.name``."""
    types = element_types()
    base = "Quantity" if context in QUANTITY_PROFILES else context
    for path, choice in ((f"{base}.{name}", False), (f"{base}.{name}[x]", True)):
        if path in types:
            return path, types[path], choice
    raise UnsupportedPathError(f"no element {context}.{name} in R4")


def _next_context(path: str, codes: tuple[str, ...]) -> str:
    if codes[0] in ("BackboneElement", "Element"):
        return path
    if codes[0].startswith("#"):
        return codes[0][1:]
    return codes[0]


def _compile_segments(text: str, context: str | None) -> tuple[list[Step], str | None]:
    """Compile ``.a.b.as(T)...`` starting from ``context``; return the steps and the final context."""
    steps: list[Step] = []
    position = 0
    last_choice: tuple[str, tuple[str, ...]] | None = None  # the previous step, if a choice element
    for match in _SEGMENT.finditer(text):
        if match.start() != position:
            break
        position = match.end()
        if match["field"]:
            if context is None:
                raise UnsupportedPathError(f"cannot type {match['field']!r} after a choice in {text!r}")
            name = match["field"]
            path, codes, choice = _lookup(context, name)
            steps.append(choice_step(name, codes) if choice else field_step(name, codes[0]))
            context = None if choice else _next_context(path, codes)
            last_choice = (name, codes) if choice and match["index"] is None else None
            if match["index"] is not None:
                steps.append(index_step(int(match["index"])))
            continue
        if match["as"]:
            context = normalise_type(match["as"])
            if last_choice is None:
                steps.append(as_step(context))
            else:  # value[x].as(Quantity): read only valueQuantity (and valueAge ...)
                accepted = accepted_types(context)
                name, codes = last_choice
                steps[-1] = choice_step(name, tuple(c for c in codes if c in accepted))
            continue
        if match["resolve"]:
            steps.append(resolve_step(match["resolve"]))
        else:
            steps.append(where_step(match["key"], match["literal"]))
        last_choice = None
    if position != len(text):
        raise UnsupportedPathError(f"cannot compile {text[position:]!r}")
    return steps, context


def compile_relative(expression: str, context: str) -> tuple[Extractor, str | None]:
    """Compile an expression evaluated on nodes of ``context`` (a resource type, element path or
    datatype); a leading type name equal to ``context`` is dropped (``Observation.code``)."""
    expression = expression.strip()
    paren = _PAREN_AS.fullmatch(expression)
    if paren:  # (X as T).y is X.as(T).y
        expression = f"{paren['inner'].strip()}.as({paren['type']}){paren['rest']}"
    head = _HEAD.fullmatch(expression)
    if head is None:
        raise UnsupportedPathError(f"cannot compile {expression!r}")
    if head["head"] == context or head["head"] in ABSTRACT_BASES:
        steps, final = _compile_segments(head["rest"], context)
    else:
        steps, final = _compile_segments("." + expression, context)
    return chain(steps), final


def split_branches(expression: str) -> list[str]:
    """Split a union at top-level ``|`` (never inside parentheses or string literals)."""
    branches, depth, quoted, start = [], 0, False, 0
    for i, char in enumerate(expression):
        if char == "'":
            quoted = not quoted
        elif not quoted and char in "()":
            depth += 1 if char == "(" else -1
        elif not quoted and depth == 0 and char == "|":
            branches.append(expression[start:i].strip())
            start = i + 1
    branches.append(expression[start:].strip())
    return branches


def branch_applies(branch: str, resource_type: str) -> bool:
    """Whether a union branch is about ``resource_type`` (``Observation.code``, ``Resource.id``, ``name``)."""
    head = _HEAD.fullmatch(branch.lstrip("("))
    if head is None:
        return True
    name = head["head"]
    return name == resource_type or name in ABSTRACT_BASES or not name[0].isupper()


def _compile_branches(expression: str, context: str, resource_type: str) -> list[tuple[Extractor, str | None]]:
    """Compile each union branch about ``resource_type``, falling back to fhirpathpy branch by branch."""
    compiled: list[tuple[Extractor, str | None]] = []
    for branch in split_branches(expression):
        if not branch_applies(branch, resource_type):
            continue
        try:
            compiled.append(compile_relative(branch, context))
        except UnsupportedPathError:
            compiled.append((_fallback(branch), None))
    return compiled


@functools.cache
def value_types(expression: str, resource_type: str) -> frozenset[str] | None:
    """The datatypes the branches of ``expression`` about ``resource_type`` select, as known before any
    resource is read (``Reference``, ``canonical``...); None when a branch's type is not known then (a
    FHIRPath fallback, a choice element read without ``as``)."""
    contexts = [context for _, context in _compile_branches(expression, resource_type, resource_type)]
    return frozenset(c for c in contexts if c is not None) if None not in contexts else None


def compile_expression(expression: str, resource_type: str, context: str | None = None) -> Extractor:
    """Compile the branches of ``expression`` that apply to ``resource_type``, evaluated on nodes of
    ``context`` (by default the resource itself)."""
    branches = _compile_branches(expression, context or resource_type, resource_type)
    return union([extractor for extractor, _ in branches])


#: FHIRPath that yields a value even when the elements it names are absent (``deceased.exists() and ...``
#: is ``false`` for a Patient without ``deceased[x]``), so no top-level key is needed for it to match
_VALUE_FROM_NOTHING = re.compile(r"\b(?:exists|empty|not|count|all)\(|\s(?:and|or|xor|implies)\s")


def _branch_root_keys(branch: str, resource_type: str) -> frozenset[str] | None:
    if _VALUE_FROM_NOTHING.search(branch):
        return None
    paren = _PAREN_AS.fullmatch(branch)
    if paren:
        branch = f"{paren['inner'].strip()}.as({paren['type']}){paren['rest']}"
    head = _HEAD.fullmatch(branch)
    if head is None:
        return None
    text = head["rest"] if head["head"] in (resource_type, *ABSTRACT_BASES) else "." + head[0]
    first = _SEGMENT.match(text)
    if first is None or not first["field"]:
        return None
    try:
        _, codes, choice = _lookup(resource_type, first["field"])
    except UnsupportedPathError:
        return None
    if not choice:
        return frozenset({first["field"]})
    narrowed = _SEGMENT.match(text, first.end())
    if narrowed is not None and narrowed["as"]:
        accepted = accepted_types(normalise_type(narrowed["as"]))
        codes = tuple(c for c in codes if c in accepted)
    return frozenset(first["field"] + c[0].upper() + c[1:] for c in codes)


def root_keys(expression: str, resource_type: str) -> frozenset[str] | None:
    """The top-level keys an expression can start from on ``resource_type`` (None: unknown)."""
    keys: set[str] = set()
    for branch in split_branches(expression):
        if not branch_applies(branch, resource_type):
            continue
        found = _branch_root_keys(branch, resource_type)
        if found is None:
            return None
        keys |= found
    return frozenset(keys)


def _composite_root_keys(param: SearchParam, resource_type: str) -> frozenset[str] | None:
    """Root keys of a composite: a branch selecting the resource itself (``Observation``) needs those
    of its last component (``value.as(Quantity)`` -> ``valueQuantity``)."""
    keys: set[str] = set()
    for branch in split_branches(param.expression):
        if not branch_applies(branch, resource_type):
            continue
        identity = branch == resource_type and param.components
        found = root_keys(param.components[-1].expression if identity else branch, resource_type)
        if found is None:
            return None
        keys |= found
    return frozenset(keys)


def _compile_composite(param: SearchParam, resource_type: str) -> tuple[CompositeBranch, ...]:
    result = []
    for extract, context in _compile_branches(param.expression, resource_type, resource_type):
        components = tuple(
            compile_expression(c.expression, resource_type, context) if context is not None else _fallback(c.expression)
            for c in param.components
        )
        result.append(CompositeBranch(extract, components))
    return tuple(result)


def _inline_targets(extract: Extractor, targets: frozenset[str]) -> Extractor:
    """Keep inline resources (``Bundle.entry[0].resource``) only when of a target type, so that
    Bundle ``composition`` indexes a document's Composition and not a searchset's first entry."""

    def run(nodes: list[Node]) -> list[Node]:
        found = extract(nodes)
        return [
            n for n in found if n[0] != "Resource" or (isinstance(n[1], dict) and n[1].get("resourceType") in targets)
        ]

    return run


def compile_param(param: SearchParam, resource_type: str) -> CompiledParam:
    """Compile one parameter (and, for a composite, its components) for ``resource_type``."""
    branches = _compile_branches(param.expression, resource_type, resource_type)
    extract = union([extractor for extractor, _ in branches])
    if param.type is ParamKind.REFERENCE and any(context == "Resource" for _, context in branches):
        extract = _inline_targets(extract, frozenset(param.targets))
    if param.type is not ParamKind.COMPOSITE:
        return CompiledParam(param, extract, root_keys=root_keys(param.expression, resource_type))
    keys = _composite_root_keys(param, resource_type)
    return CompiledParam(param, extract, _compile_composite(param, resource_type), keys)


@functools.cache
def compiled_params(registry: Registry, resource_type: str) -> tuple[CompiledParam, ...]:
    """All parameters of ``resource_type``, compiled once per registry and type (then cached)."""
    params = registry.params_for(resource_type).values()
    return tuple(compile_param(p, resource_type) for p in sorted(params, key=lambda p: p.code))


def compile_all(registry: Registry) -> None:
    """Compile every parameter of every resource type now (at start-up), not on first use."""
    for resource_type in sorted(registry.resource_types):
        compiled_params(registry, resource_type)
