"""read and vread (https://hl7.org/fhir/R4/http.html#read, #vread), with conditional read
(``If-None-Match``, ``If-Modified-Since`` → 304)."""

from __future__ import annotations

from ehr.errors import Gone, NotFound
from ehr.fhir.interactions.context import Result
from ehr.store.protocol import Tx
from ehr.store.records import VersionRecord

MAX_VERSION = 2**63 - 1


def read(tx: Tx, resource_type: str, resource_id: str, *, if_none_match: int | None = None,
         if_modified_since: int | None = None) -> Result:
    record = tx.current(resource_type, resource_id)
    _require_live(record, resource_type, resource_id)
    assert record is not None
    if if_none_match is not None and if_none_match == record.version:
        return Result(304, record=record)
    if if_modified_since is not None and record.last_updated // 1_000_000 <= if_modified_since // 1_000_000:
        return Result(304, record=record)
    return Result(200, record.body, record)


def vread(tx: Tx, resource_type: str, resource_id: str, version: int) -> Result:
    # versions are 64-bit integers in the store; a larger number cannot exist (and overflows the driver)
    record = tx.version(resource_type, resource_id, version) if 0 < version <= MAX_VERSION else None
    if record is None:
        raise NotFound(f"{resource_type}/{resource_id} has no version {version}; GET "
                       f"{resource_type}/{resource_id}/_history lists its versions.")
    if record.deleted:
        raise Gone(f"Version {version} of {resource_type}/{resource_id} is a deletion.",
                   headers=_etag(record))
    return Result(200, record.body, record)


def _require_live(record: VersionRecord | None, resource_type: str, resource_id: str) -> None:
    if record is None:
        raise NotFound(f"{resource_type}/{resource_id} does not exist; check the id, or search "
                       f"GET {resource_type}?... to find it.")
    if record.deleted:
        raise Gone(f"{resource_type}/{resource_id} was deleted; its earlier versions remain in "
                   f"{resource_type}/{resource_id}/_history.", headers=_etag(record))


def _etag(record: VersionRecord) -> dict[str, str]:
    return {"ETag": f'W/"{record.version}"'}
