"""The authorization boundary. Every interaction asks :meth:`Authorizer.check` before it touches
the store; restrictions on what a search may return are handed to the query as a constraint (so they
are compiled into SQL, never applied to results afterwards).

:class:`AllowAll` is the permissive default of the seam: every principal may do everything.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ehr.auth.scopes import ResourceScope


@dataclass(frozen=True, slots=True)
class Principal:
    """The caller: a user or client of one hospital (tenant)."""

    tenant: str
    subject: str = "anonymous"
    roles: tuple[str, ...] = ()
    #: the OAuth client the request came through (``client_id``); None in development mode
    client_id: str | None = None
    #: granted resource scopes; None: unrestricted (development mode, ``ehr serve --dev``)
    scopes: tuple[ResourceScope, ...] | None = None
    #: SMART launch context: the patient and encounter in context (``patient/`` scopes use the patient)
    patient: str | None = None
    encounter: str | None = None
    #: the user's own resource (``Practitioner/123``), from the ``fhirUser`` claim
    fhir_user: str | None = None


@dataclass(frozen=True, slots=True)
class Action:
    interaction: str
    resource_type: str | None
    id: str | None = None


class Authorizer(Protocol):
    def check(self, principal: Principal, action: Action) -> None:
        """Return if allowed; raise ``ehr.errors.Forbidden`` otherwise."""
        ...


class AllowAll:
    def check(self, principal: Principal, action: Action) -> None:
        return None
