"""Key maintenance on a running service: KEK rotation with online re-wrapping, and crypto-shredding a
patient. Both run as small transactions of their own next to live traffic (``ehr keys rotate`` and
``ehr keys shred``).

Rotation: the tenant's KEK gets a new version; then live data keys under older versions are read in
batches, re-wrapped outside any transaction, and written back each batch in one short transaction
that only changes a key still as it was read. Servers keep opening everything throughout: older KEK
versions stay decrypt-only, and a data key itself never changes, so no ciphertext has to be touched.

Shredding: the patient's data key is destroyed in every tenant that holds one (or the one given), their
versions are marked erased and their search index rows deleted, and one audit entry per tenant is
recorded through the service's auditor, in the same transaction.
"""

from __future__ import annotations

from dataclasses import dataclass

from ehr.audit.boundary import AuditRecord, Touched
from ehr.crypto.kek import KekSource
from ehr.crypto.keyring import owner_of
from ehr.fhir.interactions.context import Services
from ehr.store.sql import data_keys
from ehr.store.sql.store import SqlStore


@dataclass(frozen=True, slots=True)
class Rotation:
    tenant: str
    version: int
    rewrapped: int


def rotate_tenant(store: SqlStore, source: KekSource, tenant: str, batch: int = 200) -> Rotation:
    """Rotate ``tenant``'s KEK and re-wrap every live data key under the new version."""
    version = source.rotate(tenant)
    moved = 0
    while True:
        with store.unit_of_work(write=False) as tx:
            stale = data_keys.stale_keys(tx.conn, tenant, version, batch)
        if not stale:
            return Rotation(tenant, version, moved)
        fresh = [(key, *source.rewrap(tenant, key.kek_version, key.wrapped or b"")) for key in stale]
        with store.unit_of_work(write=True) as tx:
            moved += sum(data_keys.replace_wrapped(tx.conn, key, new_version, wrapped)
                         for key, new_version, wrapped in fresh)


def rotate_all(store: SqlStore, source: KekSource, tenant: str | None, batch: int = 200) -> list[Rotation]:
    """Rotate ``tenant``, or every tenant that holds data keys."""
    return [rotate_tenant(store, source, t, batch) for t in tenants_or(store, tenant)]


def tenants_or(store: SqlStore, tenant: str | None) -> list[str]:
    """``[tenant]``, or every tenant that holds data keys when None."""
    if tenant is not None:
        return [tenant]
    with store.unit_of_work(write=False) as tx:
        return data_keys.tenants(tx.conn)


class StillWrapped(Exception):
    """Data keys are still wrapped under a KEK version that was to be retired; the message says what to do."""


def retire_tenant(store: SqlStore, source: KekSource, tenant: str) -> list[int]:
    """Destroy ``tenant``'s KEK versions older than the newest, once no live data key is wrapped under
    them (after ``rotate_tenant``); returns the versions destroyed. A data key wrapped under an old
    version would become unreadable, so the call is refused then (a rotation still running elsewhere,
    or data keys written by a server that had not yet seen the new version: rotate again)."""
    newest = source.newest(tenant)
    with store.unit_of_work(write=False) as tx:
        stale = data_keys.stale_keys(tx.conn, tenant, newest, 1)
    if stale:
        raise StillWrapped(f"tenant {tenant}: data keys are still wrapped under KEK versions older than {newest}; "
                           "run `ehr keys rotate` (it re-wraps them), then retire again.")
    return source.retire(tenant, newest)


def shred_patient(services: Services, store: SqlStore, patient: str, tenant: str | None,
                  subject: str) -> list[str]:
    """Destroy Patient/``patient``'s data key at ``tenant`` (None: at every tenant holding one). Returns
    the tenants where a key was destroyed; an attempt that finds none is audited too (status 404)."""
    owner = owner_of(patient)
    with store.unit_of_work(write=True) as tx:
        tenants = [tenant] if tenant is not None else data_keys.patient_tenants(tx.conn, owner)
        erased = [t for t in tenants if data_keys.erase(tx.conn, t, owner, patient)]
        if erased:
            # the master patient index's copies of this identity go in the same transaction
            from ehr.mpi.forget import forget_patient

            forget_patient(services, tx, patient, subject)
        for t in tenants or [tenant or "*"]:
            services.auditor.record(AuditRecord(
                interaction="keys-shred", tenant=t, subject=subject, status=200 if t in erased else 404,
                resource_type="Patient", id=patient,
                touched=(Touched(f"Patient/{patient}", (f"Patient/{patient}",), t),)), tx)
    return erased
