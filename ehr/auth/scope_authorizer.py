"""The type-level check of SMART scopes, before any query: does some granted scope carry the letter the
interaction needs on its resource type? (The rows a request may see are the unit of work's business:
``ehr.auth.access``, which also documents the letter of each interaction.)

https://hl7.org/fhir/smart-app-launch/scopes-and-launch-context.html#scopes-for-requesting-fhir-resources
"""

from __future__ import annotations

from ehr.auth.access import STEWARD_ROLE
from ehr.auth.boundary import Action, AllowAll, Authorizer, Principal
from ehr.errors import Forbidden

#: the letter each interaction needs on its resource type
LETTERS = {
    "read": "r", "vread": "r", "history-instance": "r",
    "operation:everything": "r", "operation:ai-suggest": "r",
    "search-type": "s", "history-type": "s", "operation:match": "s",
    "create": "c", "update": "u", "patch": "u", "delete": "d",
}
#: interactions over several types: some scope must carry ``s``; the query keeps to the granted types
ANY_TYPE = frozenset({"search-system", "history-system", "search-compartment"})
#: checked entry by entry (``ehr.fhir.interactions.entry_ops.authorize``), or reading no data
UNCHECKED = frozenset({"batch", "transaction", "operation:validate"})
STEWARD_ONLY = frozenset({"operation:mdm-link", "operation:mdm-unlink", "operation:mdm-merge",
                          "operation:mdm-undo", "operation:mdm-resolve"})


class ScopeAuthorizer:
    """Refuses (403) an interaction no granted scope allows; development-mode principals (no scopes) pass."""

    def __init__(self, inner: Authorizer | None = None) -> None:
        self.inner: Authorizer = inner or AllowAll()

    def check(self, principal: Principal, action: Action) -> None:
        if principal.scopes is not None:
            _check_scopes(principal, action)
        self.inner.check(principal, action)


def _check_scopes(principal: Principal, action: Action) -> None:
    scopes = principal.scopes or ()
    if any(s.level == "patient" for s in scopes) and principal.patient is None:
        raise Forbidden("patient/ scopes need a launch patient (the token's patient claim); launch the app with "
                        "a patient in context or ask for user/ scopes.")
    name = action.interaction
    if name in UNCHECKED:
        return
    if name in STEWARD_ONLY:
        if STEWARD_ROLE not in principal.roles:
            raise Forbidden(f"Only data stewards (role {STEWARD_ROLE}) may change the master patient index.")
        return
    if name in ANY_TYPE:
        if not any("s" in s.permissions for s in scopes):
            raise Forbidden("No granted scope allows searching; ask for a scope with s (e.g. user/*.rs).")
        return
    letter = LETTERS.get(name)
    resource_type = action.resource_type
    if letter is None or resource_type is None:
        raise Forbidden(f"The interaction {name} is not available to scoped tokens; use a development-mode "
                        "server or ask the administrator.")
    if not any(s.allows(resource_type, letter) for s in scopes):
        raise Forbidden(f"No granted scope allows {name} on {resource_type} (it needs the letter {letter!r}); "
                        f"ask for a scope such as user/{resource_type}.{letter}.")
