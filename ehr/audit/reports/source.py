"""Where reports read the audit log from: the tamper-evident log (``ehr.audit.log``) in the database of
``settings``. The CLI (``ehr audit report``) calls :func:`open_reader`; the server's ``/audit`` pages read
the log its services write (``ehr.api.app``); everything else takes the
:class:`~ehr.audit.rows.AuditReader` as a parameter.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ehr.settings import Settings

if TYPE_CHECKING:
    from ehr.audit.log import SqlAuditLog


def open_reader(settings: Settings) -> SqlAuditLog:
    """The audit log of ``settings``' database (its schema migrated, its signing key in place); the
    caller closes its store."""
    from ehr.api.app import open_audit_log, open_store

    return open_audit_log(open_store(settings), settings)
