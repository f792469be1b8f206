"""The resources of a patient's compartment (https://hl7.org/fhir/R4/compartmentdefinition-patient.html),
found through the reference index with the compartment's own parameters."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import orjson

from ehr.fhir.interactions.context import Services
from ehr.search.query import Criterion, ReferenceValue, SearchQuery
from ehr.store.protocol import Tx

PAGE = 1000


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
