"""SMART on FHIR scopes as values: https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html

A resource scope is ``<level>/<type>.<permissions>[?param=value&...]``: ``level`` is ``patient``
(the launch patient's compartment), ``user`` (what the user may see) or ``system`` (a backend
client); ``type`` a resource type or ``*``; v2 permissions are letters of ``cruds`` (create, read,
update, delete, search), v1's ``read`` means ``rs`` and ``write`` means ``cud``; the query part
(granular scopes) restricts the scope to resources matching those search parameters.
``ehr.auth.tokens.parse_scopes`` turns a scope string into these values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Level = Literal["patient", "user", "system"]
#: SMART v2 permission letters, in canonical order
PERMISSIONS = "cruds"


@dataclass(frozen=True, slots=True)
class ResourceScope:
    """One granted resource scope, e.g. ``patient/Observation.rs?category=laboratory``."""

    level: Level
    #: a resource type, or ``*`` for every type
    resource_type: str
    #: the granted letters of ``cruds``
    permissions: frozenset[str]
    #: granular restriction: search parameters (name, value) every matching resource must satisfy;
    #: empty: the whole type
    criteria: tuple[tuple[str, str], ...] = ()

    def allows(self, resource_type: str, permission: str) -> bool:
        return permission in self.permissions and self.resource_type in ("*", resource_type)
