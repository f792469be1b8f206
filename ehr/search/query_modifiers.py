"""Search modifiers and composite values: which modifier each parameter type accepts, and the
:class:`Criterion` a modified parameter becomes (https://hl7.org/fhir/R4/search.html#modifiers).

Modifiers are resolved here, at parse time, into criteria both engines already answer, so the SQL and
in-memory engines cannot disagree on them:

- ``:of-type`` (Identifier ``type-system|type-code|value``) and ``:identifier`` (a reference's
  ``Reference.identifier``) search their own token rows, ``<code>:of-type`` and ``<code>:identifier``;
- ``:text`` is the string search (case- and accent-insensitive, starts-with) on the string rows of the
  texts of a token's values, ``<code>:text`` (CodeableConcept.text, Coding.display, Identifier.type.text:
  https://hl7.org/fhir/R4/search.html#token), or of a reference's display, ``<code>:display`` (R4 defines
  no ``:text`` on references; R5 does, as this: https://hl7.org/fhir/R5/search.html#modifiers). It is
  refused on reference parameters whose values cannot be References (canonical URLs, inline resources);
- ``:[type]`` on a reference (``subject:Patient=123``) types the values;
- ``:above`` / ``:below`` on tokens and ``:in`` / ``:not-in`` become the codes of the stored CodeSystem
  hierarchy or ValueSet (``ehr.search.terminology``), ``:not-in`` as a ``:not``;
- ``:above`` / ``:below`` on uris stay modifiers of the uri criterion (path prefixes).

Every modifier not listed in :data:`SUPPORTED_MODIFIERS` is refused with a 400.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ehr.errors import BadRequest, Issue, UnknownParameter
from ehr.search import query_values as qv
from ehr.search.paths import value_types
from ehr.search.query import (
    CompositePart,
    CompositeValue,
    Criterion,
    ParamType,
    ReferenceValue,
    TokenValue,
    Value,
)
from ehr.search.terminology import CannotExpand, Terminology, expand, subsumption
from ehr.search.values.references import display_param
from ehr.search.values.tokens import text_param

SUPPORTED_MODIFIERS: dict[str, frozenset[str]] = {
    "token": frozenset({"not", "text", "missing", "above", "below", "in", "not-in", "of-type"}),
    "string": frozenset({"exact", "contains", "missing"}),
    #: and the target types of the parameter (``:[type]``)
    "reference": frozenset({"missing", "identifier", "text"}),
    "date": frozenset({"missing"}),
    "number": frozenset({"missing"}),
    "quantity": frozenset({"missing"}),
    "uri": frozenset({"missing", "above", "below"}),
    "composite": frozenset({"missing"}),
    "id": frozenset(),
    "lastUpdated": frozenset({"missing"}),
}
#: component parameter types a composite value can have
_COMPONENT_TYPES = frozenset({"token", "string", "reference", "date", "number", "quantity", "uri"})


def supported_modifiers(kind: ParamType, param: Any, resource_type: str | None) -> frozenset[str]:
    """The modifiers ``param`` (of type ``kind``, on ``resource_type``) takes, besides a reference's
    target types: those of its type, less ``:text`` on a reference parameter that holds no References."""
    found = SUPPORTED_MODIFIERS.get(kind, frozenset())
    if kind == "reference" and not _holds_references(param, resource_type):
        return found - {"text"}
    return found


def _holds_references(param: Any, resource_type: str | None) -> bool:
    """Whether ``param``'s values on ``resource_type`` can be References (which have a display), or
    cannot be told apart before a resource is read."""
    expression = getattr(param, "expression", None)
    if not resource_type or not isinstance(expression, str):
        return True
    types = value_types(expression, resource_type)
    return types is None or "Reference" in types


def check_modifier(name: str, code: str, kind: ParamType, modifier: str, param: Any,
                   resource_type: str | None) -> None:
    """400 (not-supported) unless ``modifier`` applies to ``param``, of type ``kind``, on ``resource_type``."""
    allowed = supported_modifiers(kind, param, resource_type)
    if not modifier or modifier in allowed:
        return
    targets = tuple(getattr(param, "targets", ()))
    if kind == "reference" and modifier in targets:
        return
    hint = f"; '{code}' takes {', '.join(':' + m for m in sorted(allowed))}" if allowed else ""
    if kind == "reference" and modifier[:1].isupper():
        hint = f"; '{code}' points at {', '.join(targets) or 'no type that can be named'}"
    elif kind == "reference" and modifier == "text":
        hint = ": its values are canonical URLs or resources, never a Reference with a display to search" + hint
    raise unsupported(name, f"Modifier ':{modifier}' is not supported on '{code}' ({kind}){hint}.")


def build_criterion(code: str, kind: ParamType, modifier: str | None, parts: Sequence[str], name: str,
                    param: Any, base_url: str, terminology: Terminology | None) -> Criterion:
    """The criterion of ``name=parts`` (values already split on commas) once its modifier is applied."""
    if kind == "composite":
        return Criterion(code, kind, None, tuple(_composite(part, name, param, base_url) for part in parts))
    if modifier == "text" and kind in ("token", "reference"):
        rows = text_param(code) if kind == "token" else display_param(code)
        return Criterion(rows, "string", None, tuple(qv.parse_string(part) for part in parts))
    if kind == "token" and modifier in ("above", "below", "in", "not-in"):
        return _terminology(code, modifier, parts, name, terminology)
    if kind == "token" and modifier == "of-type":
        return Criterion(f"{code}:of-type", "token", None, tuple(_of_type(part, name) for part in parts))
    if kind == "reference" and modifier == "identifier":
        return Criterion(f"{code}:identifier", "token", None, tuple(qv.parse_token(p) for p in parts))
    values = tuple(qv.parse_value(kind, part, name, base_url) for part in parts)
    if kind == "reference" and modifier:
        return Criterion(code, kind, None, tuple(_typed(v, modifier, name) for v in values))
    return Criterion(code, kind, modifier, values)


def _typed(value: Value, target: str, name: str) -> Value:
    """``subject:Patient=123``: the reference value typed ``target``."""
    if not isinstance(value, ReferenceValue) or value.target_id is None:
        return value
    if value.target_type not in (None, target):
        raise BadRequest(f"'{name}' names type {target} but its value points at a {value.target_type}; "
                         "give the id alone or a reference of that type.")
    return ReferenceValue(target, value.target_id, value.url)


def _of_type(part: str, name: str) -> TokenValue:
    """``type-system|type-code|value`` (https://hl7.org/fhir/R4/search.html#token): all three needed."""
    pieces = qv.split_unescaped(part, "|")
    if len(pieces) != 3 or not all(pieces):
        raise BadRequest(f"'{name}' takes [type system]|[type code]|[identifier value], all three given "
                         "(for example http://terminology.hl7.org/CodeSystem/v2-0203|MR|12345).")
    system, kind, value = (qv.unescape(p) for p in pieces)
    return TokenValue(system, f"{kind}|{value}")


def _terminology(code: str, modifier: str, parts: Sequence[str], name: str,
                 terminology: Terminology | None) -> Criterion:
    """``:above``/``:below``/``:in``/``:not-in`` as the token codes they stand for."""
    if terminology is None:
        raise CannotExpand(name, "this search cannot read stored terminology")
    codes: dict[tuple[str, str | None], None] = {}
    for part in parts:
        if modifier in ("in", "not-in"):
            found = expand(terminology, name, qv.unescape(part))
        else:
            token = qv.parse_token(part)
            found = subsumption(terminology, name, token.system, token.code,
                                "below" if modifier == "below" else "above")
        codes.update(dict.fromkeys(found))
    values = tuple(TokenValue(system, c) for system, c in codes)
    return Criterion(code, "token", "not" if modifier == "not-in" else None, values)


def _composite(part: str, name: str, param: Any, base_url: str) -> CompositeValue:
    """``a$b``: each piece parsed by its component's type (https://hl7.org/fhir/R4/search.html#composite)."""
    components = tuple(getattr(param, "components", ()))
    pieces = qv.split_unescaped(part, "$")
    if len(pieces) != len(components) or not all(pieces):
        shape = "$".join(f"[{c.code}]" for c in components)
        raise BadRequest(f"'{name}' takes {len(components)} values joined by $: {shape}.")
    out: list[CompositePart] = []
    for component, piece in zip(components, pieces, strict=True):
        kind = str(getattr(component.type, "value", component.type))
        if kind not in _COMPONENT_TYPES:
            raise unsupported(name, f"'{name}' has a component of type {kind}, which cannot be searched.")
        out.append(CompositePart(component.code, kind, qv.parse_value(kind, piece, name, base_url)))  # type: ignore[arg-type]
    return CompositeValue(tuple(out))


def unsupported(name: str, message: str) -> UnknownParameter:
    return UnknownParameter(message, issues=[Issue(message, code="not-supported", expression=(name,))])
