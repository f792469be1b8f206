"""Reading what the audit log holds, straight from the database the test server writes to."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import orjson

from ehr.api.app import open_audit_log, open_store
from ehr.audit.log import SqlAuditLog, event_json
from ehr.audit.rows import AuditRow
from ehr.fhir import validation
from ehr.settings import Settings

OFFICER = {"X-Roles": "data-officer", "X-User": "officer-1"}


@contextmanager
def opened_log(db_url: str, data_dir: Path) -> Iterator[SqlAuditLog]:
    log = open_audit_log(open_store(Settings(db_url=db_url, data_dir=data_dir)), Settings(data_dir=data_dir))
    try:
        yield log
    finally:
        log.close()
        log.store.close()


class Tail:
    """The entries appended since the last call of :meth:`new` (each an AuditRow and its AuditEvent)."""

    def __init__(self, log: SqlAuditLog) -> None:
        self.log = log
        self.seen = self.size()

    def size(self) -> int:
        return max((row.seq for row in self.log.rows()), default=0)

    def new(self) -> list[tuple[AuditRow, dict[str, Any]]]:
        rows = [r for r in self.log.rows() if r.seq > self.seen]
        events = {seq: entry for seq, entry, _ in self.log.chain_rows() if seq > self.seen}
        self.seen = max((r.seq for r in rows), default=self.seen)
        out = []
        for row in rows:
            event = orjson.loads(event_json(row.seq, bytes(events[row.seq])))
            validation.validate(event)  # a valid R4 AuditEvent
            out.append((row, event))
        return out
