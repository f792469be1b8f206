"""Which requested scopes are granted: https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html

A requested scope is granted when one of the client's allowed scopes covers it: a resource scope
``<level>/<type>.<perms>[?query]`` is covered by an allowed scope of the same level whose type is the
same or ``*``, whose permissions include the requested ones (v1 ``read`` = ``rs``, ``write`` = ``cud``,
``*`` = ``cruds``) and whose query restrictions all appear in the requested one. Other scopes
(``launch/patient``, ``offline_access``, ``fhirUser``...) are granted when allowed verbatim. Users get
``patient/`` and ``user/`` scopes, backend clients only ``system/`` ones.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qsl

_RESOURCE = re.compile(r"(patient|user|system)/(\*|[A-Z][A-Za-z]{1,63})\.([a-z*]+)(?:\?(.*))?")
_V1 = {"read": "rs", "write": "cud", "*": "cruds"}
#: the context and token scopes this server grants (``openid`` is not: it issues no id_token; the
#: ``fhirUser`` claim is in the access token)
CONTEXT_SCOPES = frozenset({"launch", "launch/patient", "launch/encounter", "fhirUser", "offline_access",
                            "online_access"})


@dataclass(frozen=True, slots=True)
class _Parsed:
    level: str
    resource_type: str
    permissions: frozenset[str]
    criteria: frozenset[tuple[str, str]]


def _parse(scope: str) -> _Parsed | None:
    match = _RESOURCE.fullmatch(scope)
    if match is None:
        return None
    level, resource_type, perms, query = match.groups()
    letters = _V1.get(perms, perms)
    if not letters or any(c not in "cruds" for c in letters):
        return None
    return _Parsed(level, resource_type, frozenset(letters), frozenset(parse_qsl(query or "")))


def _covers(allowed: _Parsed, wanted: _Parsed) -> bool:
    return (allowed.level == wanted.level and allowed.resource_type in ("*", wanted.resource_type)
            and wanted.permissions <= allowed.permissions and allowed.criteria <= wanted.criteria)


def grant(requested: str, allowed: tuple[str, ...], levels: frozenset[str]) -> list[str]:
    """The requested scopes (space-separated) that ``allowed`` covers, at the resource ``levels`` the
    grant may hold; in request order, without duplicates."""
    allowed_resources = [p for p in map(_parse, allowed) if p is not None]
    granted: list[str] = []
    for scope in dict.fromkeys(requested.split()):
        parsed = _parse(scope)
        if parsed is None:
            if scope in CONTEXT_SCOPES and scope in allowed:
                granted.append(scope)
        elif parsed.level in levels and any(_covers(a, parsed) for a in allowed_resources):
            granted.append(scope)
    return granted


def has_resource_level(scopes: list[str] | tuple[str, ...], level: str) -> bool:
    return any(s.startswith(f"{level}/") for s in scopes)
