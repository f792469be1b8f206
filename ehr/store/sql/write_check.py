"""The SQL store's check of a restricted unit of work's writes, before anything is written: the new
content (``ehr.store.memory_access.check_content``), and for a change or deletion the stored version,
which must be in the caller's hospital and covered by a grant with the write's letter (rules:
``ehr.auth.access``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import Connection, select

from ehr.auth.access import Access
from ehr.errors import Forbidden
from ehr.store.memory_access import check_content, letter_of, refusal
from ehr.store.records import PendingWrite
from ehr.store.sql.access import visible
from ehr.store.sql.schema import resources


def check_writes(conn: Connection, access: Access, writes: Sequence[PendingWrite]) -> None:
    check_content(access, writes)
    c = resources.c
    for w in writes:
        if w.expected_version is None:
            continue
        found = conn.execute(select(c.pk).where(
            c.res_type == w.resource_type, c.res_id == w.id, c.tenant == access.tenant,
            visible(access, letter_of(w), resources))).first()
        if found is None:
            raise Forbidden(refusal(w))
