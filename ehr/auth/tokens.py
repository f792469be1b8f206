"""SMART on FHIR scope strings ↔ :class:`~ehr.auth.scopes.ResourceScope` values.

Grammar (https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-fhir-resources)::

    resource-scope = level "/" type "." permissions [ "?" param "=" value *( "&" param "=" value ) ]
    level          = "patient" / "user" / "system"
    type           = a FHIR resource type / "*"
    permissions    = v2: letters of "cruds" in that order, each at most once
                   / v1: "read" (= "rs") / "write" (= "cud") / "*" (= "cruds")

The query part (granular scopes, SMART 2 §Finer-grained resource constraints) is URL-decoded into
(name, value) pairs. Scopes that do not start with a level (``openid``, ``fhirUser``, ``launch``,
``launch/patient``, ``offline_access``, ``online_access``, ...) grant no resources and are skipped; a
scope that starts with a level but does not follow the grammar makes the whole scope string invalid.
"""

from __future__ import annotations

import re
from typing import cast
from urllib.parse import parse_qsl, quote

from ehr.auth.scopes import PERMISSIONS, Level, ResourceScope

LEVELS: tuple[Level, ...] = ("patient", "user", "system")
#: the non-resource scopes this server knows of (launch context, identity, refresh tokens)
CONTEXT_SCOPES = ("openid", "fhirUser", "profile", "launch", "launch/patient", "launch/encounter",
                  "offline_access", "online_access")
_V1 = {"read": "rs", "write": "cud", "*": PERMISSIONS}
_SCOPE = re.compile(r"(?P<level>patient|user|system)/(?P<type>\*|[A-Z][A-Za-z]{1,63})\."
                    r"(?P<perm>read|write|\*|c?r?u?d?s?)(?:\?(?P<query>.+))?", re.DOTALL)


class ScopeError(ValueError):
    """A resource scope that does not follow the SMART grammar."""


def parse_scopes(text: str) -> tuple[ResourceScope, ...]:
    """The resource scopes in a space-separated scope string, in order; non-resource scopes skipped.
    Raises :class:`ScopeError` naming the first malformed resource scope."""
    return tuple(parse_scope(s) for s in text.split() if s.partition("/")[0] in LEVELS)


def parse_scope(scope: str) -> ResourceScope:
    """One resource scope (``patient/Observation.rs?category=laboratory``)."""
    match = _SCOPE.fullmatch(scope)
    if match is None or not match["perm"]:
        raise ScopeError(f"scope {scope!r} is not a SMART resource scope; write it like patient/Observation.rs "
                         "(letters of cruds in that order) or patient/Observation.read")
    letters = _V1.get(match["perm"], match["perm"])
    criteria: tuple[tuple[str, str], ...] = ()
    if match["query"] is not None:
        try:
            pairs = parse_qsl(match["query"], keep_blank_values=False, strict_parsing=True)
        except ValueError:
            pairs = []
        if not pairs:
            raise ScopeError(f"the restriction of scope {scope!r} is not param=value[&param=value]; "
                             "URL-encode values that hold & or =")
        criteria = tuple(pairs)
    return ResourceScope(cast(Level, match["level"]), match["type"], frozenset(letters), criteria)


def format_scope(scope: ResourceScope) -> str:
    """The SMART v2 form of ``scope`` (``parse_scope(format_scope(s)) == s``)."""
    letters = "".join(p for p in PERMISSIONS if p in scope.permissions)
    text = f"{scope.level}/{scope.resource_type}.{letters}"
    if scope.criteria:
        text += "?" + "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in scope.criteria)
    return text
