"""What crypto-shredding a patient (``ehr keys shred``) means for the master patient index: every copy
of their identity that the index made goes too, in the shred's own transaction.

- their entry in the match index is deleted (it is sealed under their data key, so it could no longer
  be read anyway);
- the golden record built from them is crypto-shredded as well — its current and historic versions
  hold demographics copied from them;
- the other records of that person lose their link to it (a new version without the ``seealso``), and
  are linked again, to a new golden record, by their next write or ``ehr mpi link``.
"""

from __future__ import annotations

from ehr.auth.boundary import Principal
from ehr.crypto.keyring import owner_of
from ehr.fhir.interactions.context import Context, Services
from ehr.mpi.golden import MPI_TENANT, sync_source
from ehr.mpi.links import link_store
from ehr.store.sql import data_keys
from ehr.store.sql.store import SqlTx


def forget_patient(services: Services, tx: SqlTx, patient_id: str, subject: str) -> list[str]:
    """Remove Patient/``patient_id`` from the index; returns the golden records erased with it."""
    if services.matcher is not None:
        services.matcher.remove(tx, patient_id)
    links = link_store(tx)
    link = links.link(patient_id)
    if link is None:
        return []
    golden = link.golden_id
    others = [m.source_id for m in links.members(golden) if m.source_id != patient_id]
    for member in (patient_id, *others):
        links.drop_link(member)
    data_keys.erase(tx.conn, MPI_TENANT, owner_of(golden), golden)
    ctx = Context(base_url="urn:ehr-keys-shred", principal=Principal(tenant=MPI_TENANT, subject=subject))
    for source_id in others:
        sync_source(ctx, services, tx, links, source_id)
    return [golden]
