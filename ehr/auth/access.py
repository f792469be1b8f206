"""What one request may see and write, compiled once from its context and handed to the unit of work,
which puts it into every query (``ehr.store.sql.access`` for SQL, ``ehr.store.memory_access`` for the
in-memory twin) — never a filter on results afterwards.

SMART App Launch 2.x scopes: https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html

The rules
=========

- **Development mode.** ``Principal.scopes`` None: no restriction at all (:func:`access_for` gives None).
- **Permission letters per interaction** (``ehr.auth.scope_authorizer``, checked before any query):
  ``r`` read, vread, instance history, ``$everything`` and ``$ai-suggest`` (on Patient); ``s`` type
  search, type history, ``Patient/$match``; system search, system history and compartment search need
  ``s`` on some type and return only the granted types; ``c`` create (and an update that creates);
  ``u`` update, patch (an update that creates needs ``c`` too); ``d`` delete. A request no scope allows
  is refused with 403. Batch and transaction Bundles are checked entry by entry, each as its own
  interaction. ``$validate`` reads nothing and is always allowed; the master patient index operations
  (``$mdm-*``) need the role ``data-steward``.
- **What a read may return.** A resource is visible when some scope granting ``r`` or ``s`` on its type
  covers it (so ``_include``/``_revinclude`` targets, chain targets and ``_has`` referrers, history
  versions and ``$everything`` parts follow the same rule as the resources searched):

  - ``user/`` and ``system/``: the caller's hospital (``Principal.tenant``). Another hospital's
    resource only when the request declares a purpose of use AND its patient (the ``patient`` column)
    is linked by the master patient index (same golden record in ``mpi_links``) to a Patient of the
    caller's hospital. Break-glass (with a purpose) lifts the link requirement for reads and searches,
    never for writes; it is flagged in the audit log from the context. Resources of no patient
    (Practitioner, Organization...) of other hospitals are never visible.
  - ``patient/``: the launch patient's (``Principal.patient``) compartment in the caller's hospital,
    the Patient itself included, plus the caller's hospital's resources of types outside the Patient
    compartment (Practitioner, Organization, Location, Medication...). With a purpose of use, the
    records of the patients the master patient index links to the launch patient in other hospitals.
    Break-glass does not widen a patient-level scope. Patient scopes without a launch patient: 403.
  - Golden records (tenant ``mpi``) are visible only to the role ``data-steward`` (user/system scopes).
  - Granular scopes (``Observation.rs?category=...|laboratory``): the resource must also match the
    scope's search criteria; several scopes on one type are ORed. Criteria on ``*`` are refused (403).
    History and vread judge the criteria on the resource's current version (a deleted resource has no
    index rows, so its history is hidden under granular scopes).
- **Writes** go into the caller's own hospital only. A new version must be covered by a scope with
  the interaction's letter (``c`` for a new resource, ``u`` for a change, ``d`` for a deletion): its
  patient is the launch patient (patient scopes), its content matches the scope's criteria (granular
  scopes, checked with the in-memory search matcher before anything is written); a change or deletion
  needs the existing version to be covered too, in the caller's own hospital. Otherwise 403, and
  nothing is written.
- **Not visible is not found.** read and vread of an invisible resource answer 404 (never revealing
  that it exists); update of an invisible id (ids are global, it may belong to another hospital)
  is a create that collides: 409, nothing written; patch and delete see nothing to change (404,
  and delete's usual 204 with nothing deleted). Conditional writes match only what the caller may see
  in its own hospital; a conditional create whose criteria match a resource of the caller's
  hospital that its scopes hide answers 412 rather than create a duplicate.
- Internal machinery — master patient index linking inside writes, the audit log — keeps an
  unrestricted view (``Tx.unrestricted()``).
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ehr.auth.scopes import Level
from ehr.errors import FhirError, Forbidden
from ehr.search.blind import Blinder
from ehr.search.query import Criterion
from ehr.search.query_parse import ParseOptions, parse_search

#: the tenant of the master patient index's golden records (``ehr.mpi.golden.MPI_TENANT``)
GOLDEN_TENANT = "mpi"
STEWARD_ROLE = "data-steward"
READ_LETTERS = "rs"


@dataclass(frozen=True, slots=True)
class Grant:
    """One scope as the query sees it: its level, type (or ``*``), letters and parsed criteria."""

    level: Level
    resource_type: str
    permissions: frozenset[str]
    criteria: tuple[Criterion, ...] = ()

    def covers(self, resource_type: str, letters: str) -> bool:
        return bool(self.permissions & set(letters)) and self.resource_type in ("*", resource_type)


@dataclass(frozen=True, slots=True)
class Access:
    """The caller's rights for one request (see the module docstring for the rules)."""

    tenant: str
    grants: tuple[Grant, ...]
    #: the launch patient (``patient/`` scopes)
    patient: str | None = None
    #: the declared purpose of use; None: the caller's own hospital only
    purpose: str | None = None
    break_glass: bool = False
    steward: bool = False
    #: the types of the Patient compartment (a patient-level scope sees the others of its hospital)
    compartment_types: frozenset[str] = frozenset()

    def for_letters(self, letters: str) -> tuple[Grant, ...]:
        return tuple(g for g in self.grants if g.permissions & set(letters))

    def writable(self, resource_type: str, letter: str) -> tuple[Grant, ...]:
        return tuple(g for g in self.grants if g.covers(resource_type, letter))


def own_hospital(access: Access) -> Access:
    """Everything of the caller's own hospital (conditional writes look for matches the scopes hide)."""
    return Access(access.tenant, (Grant("user", "*", frozenset(READ_LETTERS)),))


#: recently compiled rights: a token's requests all compile to the same Access (criteria parsed once)
_RECENT: OrderedDict[tuple[Any, ...], Access] = OrderedDict()
_RECENT_LOCK = threading.Lock()
_RECENT_SIZE = 1024


def access_for(ctx: Any, registry: Any, blinder: Blinder | None = None) -> Access | None:
    """The :class:`Access` of the request ``ctx`` (an ``ehr.fhir.interactions.context.Context``); None
    in development mode (no scopes: unrestricted). Remembered for the most recent callers: the
    principal is a frozen value, so equal requests get an equal Access (and the compiled statements
    cached for it in ``ehr.store.sql.access``)."""
    principal = ctx.principal
    if principal.scopes is None:
        return None
    key = (principal, ctx.purpose_of_use, bool(ctx.break_glass), id(registry), id(blinder))
    with _RECENT_LOCK:
        found = _RECENT.get(key)
        if found is not None:
            _RECENT.move_to_end(key)
            return found
    access = _compile_access(ctx, registry, blinder)
    with _RECENT_LOCK:
        _RECENT[key] = access
        while len(_RECENT) > _RECENT_SIZE:
            _RECENT.popitem(last=False)
    return access


def _compile_access(ctx: Any, registry: Any, blinder: Blinder | None) -> Access:
    principal = ctx.principal
    grants = tuple(_grant(s, registry, blinder) for s in principal.scopes)
    if any(g.level == "patient" for g in grants) and principal.patient is None:
        raise Forbidden("patient/ scopes need a launch patient (the token's patient claim); launch the app "
                        "with a patient in context or ask for user/ scopes.")
    return Access(
        tenant=principal.tenant,
        grants=grants,
        patient=principal.patient,
        purpose=ctx.purpose_of_use,
        break_glass=bool(ctx.break_glass and ctx.purpose_of_use),
        steward=STEWARD_ROLE in principal.roles,
        compartment_types=frozenset(t for t, params in registry.compartment.items() if params),
    )


def _grant(scope: Any, registry: Any, blinder: Blinder | None) -> Grant:
    return Grant(scope.level, scope.resource_type, frozenset(scope.permissions),
                 parse_criteria(scope.resource_type, scope.criteria, registry, blinder))


def parse_criteria(resource_type: str, criteria: Sequence[tuple[str, str]], registry: Any,
                   blinder: Blinder | None = None) -> tuple[Criterion, ...]:
    """A granular scope's ``?param=value`` part as search criteria of ``resource_type``."""
    if not criteria:
        return ()
    if resource_type == "*":
        raise Forbidden("A granular scope needs a resource type (Observation.rs?category=...), not *; ask "
                        "the authorization server for typed scopes.")
    try:
        query = parse_search(resource_type, list(criteria), registry, ParseOptions(base_url="", blinder=blinder))
    except FhirError as exc:
        raise Forbidden(f"The scope on {resource_type} has criteria this server cannot apply ({exc.message}); "
                        "ask for a scope with known search parameters.") from None
    return query.criteria
