"""The parallel fast path of verification gives the same report as the sequential walk for an intact
log, and hands over to the walk (None) for anything that needs explaining — on both engines."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from ehr.audit.checkpoints import Checkpoint
from ehr.audit.events import PreparedEvent, prepare_events
from ehr.audit.log import SqlAuditLog
from ehr.audit.parallel import verify_parallel
from ehr.audit.verify import verify

from .logs import START_US, TEST_SIGNER
from .support import opened_log

N = 1200
EVERY = 100


@pytest.fixture
def log(db_url: str, tmp_path: Path) -> Iterator[SqlAuditLog]:
    from ehr.audit.boundary import AuditRecord, Touched

    with opened_log(db_url, tmp_path) as opened:
        opened.signer = TEST_SIGNER
        opened.checkpoint_every = EVERY
        events: list[PreparedEvent] = []
        for n in range(N):
            record = AuditRecord("read", "default", f"user-{n % 7}", 200, "Patient",
                                 touched=(Touched(f"Patient/p{n}", (f"Patient/p{n}",), "default"),))
            events += prepare_events(record, START_US + n)
        with opened.store.unit_of_work(write=True) as tx:
            opened.append(tx.conn, events)
        yield opened


def _quick(log: SqlAuditLog, extra: list[Checkpoint] | None = None) -> object:
    log.store.engine.dispose()
    url = log.store.engine.url.render_as_string(hide_password=False)
    return verify_parallel(url, N, [*log.checkpoints(), *(extra or [])], TEST_SIGNER.public, workers=3,
                           min_entries=0)


def test_parallel_report_equals_the_walk(log: SqlAuditLog) -> None:
    walked = verify(log.chain_rows(), log.checkpoints(), TEST_SIGNER.public)
    assert walked.intact
    assert _quick(log) == walked
    assert log.verify(min_parallel=0) == walked


def test_anything_to_explain_goes_to_the_walk(log: SqlAuditLog, db_url: str) -> None:
    cps = log.checkpoints()
    beyond = TEST_SIGNER.sign(N + 5, cps[-1].head, START_US)
    assert _quick(log, [beyond]) is None  # a cut tail
    engine = create_engine(db_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_log SET chain = entry WHERE seq = 777"))
    engine.dispose()
    assert _quick(log) is None
    report = log.verify(min_parallel=0)
    assert report.problems[0].seq == 777
