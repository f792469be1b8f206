"""``Patient/[id]/$everything`` (https://hl7.org/fhir/R4/patient-operation-everything.html): the
Patient and every current resource in its compartment
(https://hl7.org/fhir/R4/compartmentdefinition-patient.html), as a searchset Bundle.

Parameters: ``_since`` (only resources updated at or after this instant), ``_type`` (only these
types, comma-separated), ``_count`` (page size, 1–1000); pages follow a stable order (Patients first,
then by type and id) through ``next`` links that carry a keyset cursor, so every resource is on
exactly one page. ``_mdm=true`` (this service) spans every record the master patient index links to
the same person, adds the golden Patient, and shows identical facts reported by two hospitals once
(``ehr.mpi.facts``), the kept one listing the others in ``also-reported-by`` extensions. Every
resource carries its source hospital as a ``meta.tag`` (``source-hospital``). Which hospitals'
parts a caller may see is decided by the unit of work's access (``ehr.auth.access``), compiled into
every query this operation makes; :func:`visible_parts` remains the seam for rules beyond it (consent).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

import orjson

from ehr.auth.boundary import Principal
from ehr.errors import BadRequest
from ehr.fhir.bundles import bundle, link
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.read import read
from ehr.mpi.facts import duplicates
from ehr.mpi.golden import CANONICAL, MPI_TENANT, live
from ehr.mpi.links import link_store
from ehr.search.query import Criterion, ReferenceValue, SearchQuery
from ehr.store.protocol import Tx
from ehr.store.records import VersionRecord

SOURCE_HOSPITAL = f"{CANONICAL}/CodeSystem/source-hospital"
ALSO_REPORTED = f"{CANONICAL}/StructureDefinition/also-reported-by"
PAGE = 1000


def visible_parts(principal: Principal, records: Sequence[VersionRecord]) -> list[VersionRecord]:  # noqa: ARG001
    """The records of the unified record ``principal`` may see beyond what the queries already kept to
    (tenant, scopes, purpose of use: ``ehr.auth.access``): today, all of them."""
    return list(records)


def everything(ctx: Context, services: Services, tx: Tx, patient_id: str,
               params: Sequence[tuple[str, str]]) -> Result:
    options = dict(params)
    read(tx, "Patient", patient_id)  # 404 or 410 for an unknown or deleted Patient
    mdm = _flag(options.get("_mdm"))
    count = _count(options.get("_count"), ctx.default_count)
    patients = _person(tx, patient_id) if mdm else [patient_id]
    types = _types(services, options.get("_type"))
    records = _gather(services, tx, patients, types, with_golden=mdm)
    if options.get("_type") and "Patient" not in types:
        records = [r for r in records if r.resource_type != "Patient"]
    records = visible_parts(ctx.principal, records)
    since = _since(options.get("_since"))
    records = sorted((r for r in records if since is None or r.last_updated >= since), key=_order)
    items = [(r.tenant, orjson.loads(r.body or b"{}")) for r in records]
    merged = duplicates(items) if mdm else {}
    left_out = {i for dups in merged.values() for i in dups}
    shown = [(records[i], _present(items[i], [items[j] for j in merged.get(i, [])]))
             for i in range(len(items)) if i not in left_out]
    after = options.get("_cursor")
    page = [s for s in shown if after is None or _order(s[0]) > _cursor_key(after)]
    entries = [{"fullUrl": f"{ctx.base_url}/{r.resource_type}/{r.id}", "resource": body,
                "search": {"mode": "match"}} for r, body in page[:count]]
    path = f"Patient/{patient_id}/$everything"
    kept = [(k, v) for k, v in params if k != "_cursor"]
    links = [("self", link(ctx.base_url, path, params))]
    if len(page) > count:
        last = page[count - 1][0]
        links.append(("next", link(ctx.base_url, path, [*kept, ("_cursor", f"{last.resource_type}/{last.id}")])))
    return Result(200, bundle("searchset", entries, links, total=len(shown)), touched=tuple(r for r, _ in page[:count]))


def everything_all(ctx: Context, services: Services, tx: Tx, params: Sequence[tuple[str, str]]) -> Result:
    """``Patient/$everything`` at type level: every (non-golden) Patient with its compartment, patient
    by patient in key order, each in the instance-level order. The cursor names the patient's key and
    the last resource given, so pages stay stable while others write (a resource in the compartments of
    two patients is given once for each)."""
    options = dict(params)
    count = _count(options.get("_count"), ctx.default_count)
    types = _types(services, options.get("_type"))
    since = _since(options.get("_since"))
    start_pk, after = _all_cursor(options.get("_cursor"))
    entries: list[dict[str, Any]] = []
    given: list[VersionRecord] = []
    last: str | None = None
    more = False
    patients = SearchQuery("Patient", (), count=PAGE, after=start_pk - 1 if start_pk else None)
    while not more:
        page = tx.search(patients)
        for patient in page.records:
            records = [] if patient.tenant == MPI_TENANT else _patient_part(ctx, services, tx, patient.id, types,
                                                                            since, filter_patient=bool(
                                                                                options.get("_type")))
            if patient.seq == start_pk and after is not None:
                records = [r for r in records if _order(r) > after]
            for record in records:
                if len(entries) == count:
                    more = True
                    break
                entries.append({"fullUrl": f"{ctx.base_url}/{record.resource_type}/{record.id}",
                                "resource": _present((record.tenant, orjson.loads(record.body or b"{}")), []),
                                "search": {"mode": "match"}})
                given.append(record)
                last = f"{patient.seq}:{record.resource_type}/{record.id}"
            if more:
                break
        if page.next_cursor is None:
            break
        patients = SearchQuery("Patient", (), count=PAGE, after=page.next_cursor)
    kept = [(k, v) for k, v in params if k != "_cursor"]
    links = [("self", link(ctx.base_url, "Patient/$everything", params))]
    if more and last is not None:
        links.append(("next", link(ctx.base_url, "Patient/$everything", [*kept, ("_cursor", last)])))
    return Result(200, bundle("searchset", entries, links), touched=tuple(given))


def _patient_part(ctx: Context, services: Services, tx: Tx, patient_id: str, types: list[str],
                  since: int | None, *, filter_patient: bool) -> list[VersionRecord]:
    records = _gather(services, tx, [patient_id], types, with_golden=False)
    if filter_patient and "Patient" not in types:
        records = [r for r in records if r.resource_type != "Patient"]
    visible = visible_parts(ctx.principal, records)
    return sorted((r for r in visible if since is None or r.last_updated >= since), key=_order)


def _all_cursor(cursor: str | None) -> tuple[int | None, tuple[int, str, str] | None]:
    if cursor is None:
        return None, None
    pk, _, key = cursor.partition(":")
    if not pk.isdigit() or int(pk) > 2**63 - 1:
        raise BadRequest("_cursor is the value of a next link; follow that link as it is.")
    return int(pk), _cursor_key(key)


def _person(tx: Tx, patient_id: str) -> list[str]:
    """Every record of the person ``patient_id`` belongs to (itself when it is linked to nobody)."""
    links = link_store(tx)
    golden_id = patient_id if links.is_golden(patient_id) else getattr(links.link(patient_id), "golden_id", None)
    if golden_id is None:
        return [patient_id]
    golden_id = links.final_golden(golden_id)
    return sorted({golden_id, patient_id} | {m.source_id for m in links.members(golden_id)})


def _gather(services: Services, tx: Tx, patients: list[str], types: list[str], *,
            with_golden: bool) -> list[VersionRecord]:
    found = {("Patient", r.id): r for p in patients if (r := live(tx, p)) is not None
             and (with_golden or r.tenant != MPI_TENANT)}
    references = tuple(ReferenceValue("Patient", p) for p in patients)
    for resource_type in types:
        for param in services.registry.patient_compartment(resource_type) if resource_type != "Patient" else ():
            criterion = Criterion(param, "reference", None, references)
            for record in _search_all(tx, SearchQuery(resource_type, (criterion,), count=PAGE)):
                if record.tenant != MPI_TENANT:
                    found[(record.resource_type, record.id)] = record
    return list(found.values())


def _search_all(tx: Tx, query: SearchQuery) -> list[VersionRecord]:
    out: list[VersionRecord] = []
    while True:
        page = tx.search(query)
        out.extend(r for r in page.records if r.body is not None)
        if page.next_cursor is None:
            return out
        query = SearchQuery(query.resource_type, query.criteria, query.count, int(page.next_cursor))


def _present(item: tuple[str, dict[str, Any]], others: list[tuple[str, dict[str, Any]]]) -> dict[str, Any]:
    """The resource with its source hospital tag and the duplicates other hospitals reported."""
    tenant, resource = item
    meta = dict(resource.get("meta") or {})
    meta["tag"] = [*meta.get("tag", []), {"system": SOURCE_HOSPITAL, "code": tenant}]
    out = {**resource, "meta": meta}
    if others:
        out["extension"] = [*resource.get("extension", []), *(
            {"url": ALSO_REPORTED, "valueReference": {"reference": f"{o['resourceType']}/{o['id']}",
                                                      "display": other_tenant}}
            for other_tenant, o in others)]
    return out


def _order(record: VersionRecord) -> tuple[int, str, str]:
    return (0 if record.resource_type == "Patient" else 1, record.resource_type, record.id)


def _cursor_key(cursor: str) -> tuple[int, str, str]:
    resource_type, _, resource_id = cursor.partition("/")
    if not resource_type or not resource_id:
        raise BadRequest("_cursor is the value of a next link; follow that link as it is.")
    return (0 if resource_type == "Patient" else 1, resource_type, resource_id)


def _types(services: Services, value: str | None) -> list[str]:
    compartment = sorted(t for t in services.registry.compartment if t != "Patient")
    if not value:
        return compartment
    wanted = [t.strip() for t in value.split(",") if t.strip()]
    unknown = [t for t in wanted if t not in compartment and t != "Patient"]
    if unknown:
        raise BadRequest(f"_type names types outside the Patient compartment: {', '.join(unknown)}.")
    return wanted


def _since(value: str | None) -> int | None:
    if not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        parsed = None
    if parsed is None or parsed.tzinfo is None:
        raise BadRequest(f"_since must be an instant with a time zone, e.g. 2024-01-02T03:04:05Z, not {value!r}.")
    return int(parsed.timestamp() * 1_000_000)


def _count(value: str | None, default: int) -> int:
    if value is None:
        return default
    if not value.isdigit() or not 1 <= int(value) <= PAGE:
        raise BadRequest(f"_count must be a whole number from 1 to {PAGE}.")
    return int(value)


def _flag(value: str | None) -> bool:
    if value not in (None, "true", "false"):
        raise BadRequest("_mdm is true or false.")
    return value == "true"
