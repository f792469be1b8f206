"""Who may read the audit log: only data officers (role ``data-officer``) may read or search
AuditEvents. Wraps whatever authorizer the service runs with, so the rule holds under any of them.

Roles come from the access token's ``roles`` claim (``ehr.api.bearer``; the ``X-Roles`` development
header in ``--dev`` mode).
"""

from __future__ import annotations

from ehr.auth.boundary import Action, AllowAll, Authorizer, Principal
from ehr.errors import Forbidden

OFFICER_ROLE = "data-officer"
AUDIT_READS = frozenset({"read", "vread", "search-type", "history-instance", "history-type"})


class AuditOfficersOnly:
    def __init__(self, inner: Authorizer | None = None) -> None:
        self.inner: Authorizer = inner or AllowAll()

    def check(self, principal: Principal, action: Action) -> None:
        if action.resource_type == "AuditEvent" and action.interaction in AUDIT_READS \
                and OFFICER_ROLE not in principal.roles:
            raise Forbidden(f"Only data officers (role {OFFICER_ROLE}) may read the audit log; ask your "
                            "hospital's data protection officer.")
        self.inner.check(principal, action)
