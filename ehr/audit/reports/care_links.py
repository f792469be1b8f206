"""Care links for the ``other-hospital`` anomaly (``ehr.audit.reports.anomalies``), from the master
patient index: a hospital has a care link with another hospital's patient when the index links that
patient to a Patient of the hospital (the same person is its patient too). This is the same link that
lets a caller with a declared purpose of use see the record at all (``ehr.auth.access``), so the
anomaly then flags only access outside it (break-glass, or a link undone since).
"""

from __future__ import annotations

from sqlalchemy import select

from ehr.store.sql.access import linked_to_tenant
from ehr.store.sql.store import SqlStore


class MpiCareLinks:
    def __init__(self, store: SqlStore) -> None:
        self.store = store

    def linked(self, tenant: str, patient: str) -> bool:
        """``patient``: an id or, as the audit log names patients, ``Patient/<id>``."""
        patient = patient.removeprefix("Patient/")
        linked = linked_to_tenant(tenant).subquery()
        with self.store.unit_of_work(write=False) as tx:
            found = tx.conn.execute(select(linked.c.source_id).where(linked.c.source_id == patient).limit(1))
            return found.first() is not None
