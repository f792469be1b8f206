"""Care links from the master patient index (``ehr.audit.reports.care_links``): another hospital's patient
is linked to a hospital when the index puts them in one person with a Patient of that hospital; the
``other-hospital`` anomaly then stays quiet for it, and reports access without such a link."""

from __future__ import annotations

from pathlib import Path

from ehr.api.app import open_store
from ehr.audit.reports.anomalies import other_hospital
from ehr.audit.reports.care_links import MpiCareLinks
from ehr.mpi.link_tables import mpi_links
from ehr.settings import Settings
from ehr.store.records import PendingWrite, now_us
from tests.audit.reports.support import DAY, row


def patient_write(pid: str, tenant: str) -> PendingWrite:
    body = b'{"resourceType":"Patient","id":"%s"}' % pid.encode()
    return PendingWrite("Patient", pid, 1, now_us(), tenant, "PUT", body, None, None, patient=pid)


def test_links_come_from_the_patient_index(db_url: str, tmp_path: Path) -> None:
    store = open_store(Settings(db_url=db_url, data_dir=tmp_path))
    try:
        with store.unit_of_work(write=True) as tx:
            tx.write([patient_write("pa", "hospital-a"), patient_write("pb", "hospital-b"),
                      patient_write("pc", "hospital-c")])
            tx.conn.execute(mpi_links.insert(), [
                {"source_id": s, "golden_id": "g1", "origin": "manual", "score": None, "actor": "test",
                 "decided_at": now_us()} for s in ("pa", "pb")])
        links = MpiCareLinks(store)
        assert links.linked("hospital-a", "pb")
        assert links.linked("hospital-b", "pa")
        assert not links.linked("hospital-c", "pb")  # hospital c has no Patient of that person
        assert not links.linked("hospital-a", "pc")  # pc is in no person record
        assert links.linked("hospital-a", "Patient/pb")  # as the audit log names patients
        rows = [row(DAY, tenant="hospital-a", patient="Patient/pb", patient_tenant="hospital-b"),
                row(DAY, tenant="hospital-c", patient="Patient/pb", patient_tenant="hospital-b")]
        flagged = other_hospital(rows, links)
        assert [(a.tenant, a.patient) for a in flagged] == [("hospital-c", "Patient/pb")]
    finally:
        store.close()
