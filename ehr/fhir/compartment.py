"""The resources of a patient's compartment (https://hl7.org/fhir/R4/compartmentdefinition-patient.html),
found through the reference index with the compartment's own parameters; and the other way round, the
patients a resource belongs to (for the audit log's entities)."""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import orjson

from ehr.fhir.interactions.context import Services
from ehr.search.extract import rows_for_nodes
from ehr.search.index_rows import IndexRows, ReferenceRow
from ehr.search.paths import CompiledParam, compiled_params
from ehr.search.query import Criterion, ReferenceValue, SearchQuery
from ehr.search.registry import ParamKind, Registry
from ehr.store.protocol import Tx
from ehr.store.records import VersionRecord

PAGE = 1000
#: compartment parameters naming the patient the record is about, tried before the others (an
#: Observation's ``subject`` before its ``performer``)
_PREFERRED = ("patient", "subject", "beneficiary", "individual")


def owner_patient(resource_type: str, resource_id: str, rows: IndexRows | None, registry: Any) -> str | None:
    """The patient a resource belongs to: the Patient itself, else the first Patient its compartment
    parameters reference (``patient`` and ``subject`` first), read from its already extracted
    reference rows; None when it is in no patient's compartment. Its data key is that patient's."""
    if resource_type == "Patient":
        return resource_id
    codes: tuple[str, ...] = registry.patient_compartment(resource_type)
    if not codes or rows is None:
        return None
    ordered = sorted(codes, key=lambda c: _PREFERRED.index(c) if c in _PREFERRED else len(_PREFERRED))
    found = {r.param: r.target_id for r in reversed(rows.references)
             if r.target_type == "Patient" and r.target_id and r.param in codes}
    return next((found[c] for c in ordered if c in found), None)


def patient_resources(services: Services, tx: Tx, patient_id: str, types: Iterable[str],
                      also: Sequence[Criterion] = ()) -> list[dict[str, Any]]:
    """Every current resource of ``types`` in the compartment of Patient/``patient_id`` that also meets
    the criteria ``also``."""
    out: list[dict[str, Any]] = []
    for resource_type in types:
        for param in services.registry.patient_compartment(resource_type):
            out.extend(_all(tx, resource_type, param, patient_id, also))
    unique = {(r["resourceType"], r["id"]): r for r in out}
    return list(unique.values())


def _all(tx: Tx, resource_type: str, param: str, patient_id: str, also: Sequence[Criterion]) -> list[dict[str, Any]]:
    criterion = Criterion(param, "reference", None, (ReferenceValue("Patient", patient_id),))
    found: list[dict[str, Any]] = []
    after: int | None = None
    while True:
        page = tx.search(SearchQuery(resource_type, (criterion, *also), count=PAGE, after=after))
        found.extend(orjson.loads(r.body) for r in page.records if r.body is not None)
        if page.next_cursor is None:
            return found
        after = int(page.next_cursor)


def patients_of(registry: Registry, record: VersionRecord) -> tuple[str, ...]:
    """``Patient/<id>`` of every patient whose compartment holds ``record``: the Patient itself, else the
    patients its compartment parameters (``subject``, ``patient``, ``performer``...) refer to.
    Remembered per version and content (a version never changes; the content's hash keeps apart
    stores that reuse an id, as tests do), so a resource read again is not parsed again for its
    audit entry."""
    if record.resource_type == "Patient":
        return (f"Patient/{record.id}",)
    if record.body is None or not registry.patient_compartment(record.resource_type):
        return ()
    key = (record.resource_type, record.id, record.version, hash(record.body) ^ id(registry))
    with _SEEN_LOCK:
        found = _SEEN.get(key)
    if found is None:
        found = patient_references(registry, orjson.loads(record.body))
        with _SEEN_LOCK:
            _SEEN[key] = found
            while len(_SEEN) > _SEEN_SIZE:
                _SEEN.popitem(last=False)
    return found


#: the patients of recently audited versions (``patients_of``), most recent last
_SEEN: OrderedDict[tuple[str, str, int, int], tuple[str, ...]] = OrderedDict()
_SEEN_LOCK = threading.Lock()
_SEEN_SIZE = 65_536


def patient_references(registry: Registry, resource: Mapping[str, Any]) -> tuple[str, ...]:
    resource_type = str(resource.get("resourceType"))
    root = [(resource_type, resource)]
    found: dict[str, None] = {}
    for compiled in _compartment_params(registry, resource_type):
        for row in rows_for_nodes(compiled.param.code, ParamKind.REFERENCE, compiled.extract(root)):
            # a reference parameter also yields token rows of Reference.identifier (``:identifier``)
            if isinstance(row, ReferenceRow) and row.target_type == "Patient" and row.target_id:
                found[f"Patient/{row.target_id}"] = None
    return tuple(found)


@functools.cache
def _compartment_params(registry: Registry, resource_type: str) -> tuple[CompiledParam, ...]:
    codes = set(registry.patient_compartment(resource_type))
    return tuple(c for c in compiled_params(registry, resource_type) if c.param.code in codes)
