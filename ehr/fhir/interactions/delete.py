"""delete and conditional delete (https://hl7.org/fhir/R4/http.html#delete, #cdelete).

Deleting keeps every version: a deletion marker becomes the newest version, a later read is 410
Gone, and history still lists what was there.
"""

from __future__ import annotations

from ehr.errors import NotFound
from ehr.fhir.interactions.conditional import single_match
from ehr.fhir.interactions.context import Context, Result, Services
from ehr.fhir.interactions.update import check_version
from ehr.fhir.interactions.writes import deletion
from ehr.store.protocol import Tx


def delete(ctx: Context, tx: Tx, resource_type: str, resource_id: str, *,
           if_match: int | None = None) -> Result:
    previous = tx.current(resource_type, resource_id, for_update=True)
    if previous is None:
        raise NotFound(f"{resource_type}/{resource_id} does not exist, so there is nothing to delete.")
    check_version(previous, if_match, resource_type, resource_id)
    if previous.deleted:
        return Result(204, record=previous)
    record = tx.write([deletion(ctx, previous)])[0]
    return Result(204, record=record, touched=(previous,))


def conditional_delete(ctx: Context, services: Services, tx: Tx, resource_type: str, criteria: str) -> Result:
    match = single_match(ctx, services, tx, resource_type, criteria)
    if match is None:
        return Result(204)
    return delete(ctx, tx, resource_type, match.id)
