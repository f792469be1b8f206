"""An in-memory :class:`ehr.audit.rows.AuditReader` over a list of rows: for unit tests and for the
demo before the tamper-evident log is wired in."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

from ehr.audit.rows import AuditRow


class MemoryAuditReader:
    """Holds rows in ``seq`` order and filters them like the log's reader does."""

    def __init__(self, rows: Iterable[AuditRow] = ()) -> None:
        self._rows = sorted(rows, key=lambda row: row.seq)

    def rows(self, *, patient: str | None = None, agent: str | None = None, tenant: str | None = None,
             since: datetime | None = None, until: datetime | None = None) -> Iterator[AuditRow]:
        for row in self._rows:
            if patient is not None and row.patient != patient:
                continue
            if agent is not None and row.agent != agent:
                continue
            if tenant is not None and row.tenant != tenant:
                continue
            if since is not None and row.recorded < since:
                continue
            if until is not None and row.recorded >= until:
                continue
            yield row
