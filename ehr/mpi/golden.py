"""Golden (master) Patients and ``Patient.link`` (https://hl7.org/fhir/R4/patient.html#links).

One golden Patient per person, kept in the ``mpi`` tenant and tagged ``GOLDEN_RECORD`` (the tag HAPI
FHIR's MDM module uses, under this service's own code system). Its ``link`` lists every source record
(``seealso``) and the golden records merged into it (``replaces``); a golden record merged away is
inactive with a ``replaced-by`` link. Each source Patient carries one ``seealso`` link to its golden
record; the hospital's own links are kept as they are.

The golden record's demographics follow a simple survivorship rule: name, gender, birth date, address
and telecom from the most recently updated source that has them. The hospitals' identifiers (MRNs)
are not copied: a conditional write or reference by MRN must keep finding exactly one Patient.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson

from ehr.auth.boundary import Principal
from ehr.fhir.interactions.context import Context, Services
from ehr.fhir.interactions.writes import body_dict, deletion, pending
from ehr.mpi.links import LinkStore
from ehr.store.protocol import Tx
from ehr.store.records import Method, VersionRecord

MPI_TENANT = "mpi"
CANONICAL = "https://ehr-service.example/fhir"
RECORD_STATUS = f"{CANONICAL}/CodeSystem/mdm-record-status"
GOLDEN_TAG = {"system": RECORD_STATUS, "code": "GOLDEN_RECORD", "display": "Golden record"}
SURVIVING = ("name", "gender", "birthDate", "address", "telecom")


def is_golden(resource: dict[str, Any]) -> bool:
    tags = (resource.get("meta") or {}).get("tag") or []
    return any(isinstance(t, dict) and t.get("system") == RECORD_STATUS and t.get("code") == "GOLDEN_RECORD"
               for t in tags)


def as_tenant(ctx: Context, tenant: str) -> Context:
    """``ctx`` writing into ``tenant`` (the golden records' ``mpi``, or a source's own hospital)."""
    return replace(ctx, principal=Principal(tenant, ctx.principal.subject, ctx.principal.roles))


def live(tx: Tx, patient_id: str) -> VersionRecord | None:
    record = tx.current("Patient", patient_id)
    return None if record is None or record.deleted else record


def golden_body(golden_id: str, sources: list[VersionRecord], replaces: list[str],
                replaced_by: str | None) -> dict[str, Any]:
    bodies = [body_dict(r) for r in sorted(sources, key=lambda r: r.last_updated, reverse=True)]
    out: dict[str, Any] = {"resourceType": "Patient", "id": golden_id, "meta": {"tag": [GOLDEN_TAG]}}
    out["active"] = replaced_by is None
    for name in SURVIVING:
        value = next((b[name] for b in bodies if b.get(name)), None)
        if value is not None:
            out[name] = value
    links = [_link(s.id, "seealso") for s in sorted(sources, key=lambda r: r.id)]
    links += [_link(g, "replaces") for g in replaces]
    if replaced_by is not None:
        links.append(_link(replaced_by, "replaced-by"))
    if links:
        out["link"] = links
    return out


def sync_golden(ctx: Context, services: Services, tx: Tx, links: LinkStore, golden_id: str) -> None:
    """Write the golden record as its links now say (nothing when it already says so); a golden
    record without sources that replaces nothing and was not merged is deleted."""
    sources = [r for m in links.members(golden_id) if (r := live(tx, m.source_id)) is not None]
    replaces, replaced_by = links.replaces(golden_id), links.replaced_by(golden_id)
    previous = tx.current("Patient", golden_id, for_update=True)
    if not sources and not replaces and replaced_by is None:
        if previous is not None and not previous.deleted:
            tx.write([deletion(as_tenant(ctx, MPI_TENANT), previous)])
        return
    body = golden_body(golden_id, sources, replaces, replaced_by)
    if previous is not None and not previous.deleted and _content(body_dict(previous)) == _content(body):
        return
    method: Method = "POST" if previous is None else "PUT"
    tx.write([pending(as_tenant(ctx, MPI_TENANT), services, body, golden_id, method, previous)])


def with_golden_link(resource: dict[str, Any], golden_id: str | None, links: LinkStore) -> dict[str, Any]:
    """``resource`` with one ``seealso`` link to ``golden_id`` (None: none), replacing any link to
    another golden record; the other links are kept in their order."""
    kept = [entry for entry in resource.get("link", []) if not _to_golden(entry, links)]
    if golden_id is not None:
        kept.append(_link(golden_id, "seealso"))
    out = {k: v for k, v in resource.items() if k != "link"}
    if kept:
        out["link"] = kept
    return out


def sync_source(ctx: Context, services: Services, tx: Tx, links: LinkStore, source_id: str) -> None:
    """Give the source Patient the link to its golden record (a new version only when it changes)."""
    previous = tx.current("Patient", source_id, for_update=True)
    if previous is None or previous.deleted:
        return
    link = links.link(source_id)
    body = body_dict(previous)
    wanted = with_golden_link(body, link.golden_id if link else None, links)
    if wanted.get("link") == body.get("link"):
        return
    tx.write([pending(as_tenant(ctx, previous.tenant), services, wanted, source_id, "PUT", previous)])


def _to_golden(entry: Any, links: LinkStore) -> bool:
    reference = str(((entry or {}).get("other") or {}).get("reference", ""))
    kind, _, target = reference.partition("/")
    return kind == "Patient" and bool(target) and links.is_golden(target)


def _link(patient_id: str, kind: str) -> dict[str, Any]:
    return {"other": {"reference": f"Patient/{patient_id}"}, "type": kind}


def _content(resource: dict[str, Any]) -> bytes:
    meta = {k: v for k, v in (resource.get("meta") or {}).items() if k not in ("versionId", "lastUpdated")}
    return orjson.dumps({**resource, "meta": meta}, option=orjson.OPT_SORT_KEYS)
