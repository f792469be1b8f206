"""The appender's own connection (``ehr.audit.raw_append``): batches chain exactly as appends through
the store do (the log verifies), checkpoints land every ``checkpoint_every`` entries, and a writer
that must not wait gives up at once, writing nothing, while another holds the write lock."""

from __future__ import annotations

from pathlib import Path

from ehr.api.app import open_audit_log, open_store
from ehr.audit.boundary import AuditRecord
from ehr.audit.events import prepare_events
from ehr.audit.log import link
from ehr.audit.raw_append import RawAppender
from ehr.settings import Settings


def test_raw_batches_chain_and_checkpoint_like_the_store(db_url: str, tmp_path: Path) -> None:
    settings = Settings(db_url=db_url, data_dir=tmp_path)
    store = open_store(settings)
    log = open_audit_log(store, settings)
    raw = RawAppender(store, (0x45485200, 1), checkpoint_every=4)
    try:
        sign = lambda size, chain: log.signer.sign(size, chain, 0)  # noqa: E731
        for n in range(3):
            events = [e for i in range(3) for e in prepare_events(AuditRecord("read", "t", f"u{n}{i}", 200), n)]
            assert raw.append(events, link, sign)
        assert log.size() == 9
        assert [cp.size for cp in log.checkpoints()] == [4, 8]
        report = log.verify()
        assert report.intact, report.summary()
        assert report.checkpoints == 2
    finally:
        raw.close()
        log.close()
        store.close()


def test_a_writer_that_must_not_wait_gives_up_while_the_lock_is_held(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    store = open_store(settings)
    log = open_audit_log(store, settings)
    raw = RawAppender(store, (0x45485200, 1), checkpoint_every=1000)
    try:
        events = prepare_events(AuditRecord("read", "t", "u", 200), 1)
        sign = lambda size, chain: log.signer.sign(size, chain, 0)  # noqa: E731
        with store.writer_lock():
            assert not raw.append(events, link, sign, wait=False)
        assert log.size() == 0
        assert raw.append(events, link, sign, wait=False)
        assert log.size() == 1
    finally:
        raw.close()
        log.close()
        store.close()
