"""``ehr audit verify`` and ``ehr audit checkpoint --export`` against the database, on both engines:
exit 0 and one summary line when intact; exit 1 naming the seq of a modified or deleted entry; a cut
tail that the database's own checkpoints no longer show is caught by the exported ones."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from ehr.audit.boundary import AuditRecord, Touched
from ehr.cli.main import app

from .support import opened_log

ENTRIES = 8


def _fill(db_url: str, data_dir: Path) -> None:
    with opened_log(db_url, data_dir) as log:
        for n in range(ENTRIES):
            record = AuditRecord("read", "default", f"user-{n}", 200, "Patient",
                                 touched=(Touched(f"Patient/p{n}", (f"Patient/p{n}",), "default"),))
            log.record(record, None).wait()


def _cli(*args: str) -> tuple[int, list[str]]:
    result = CliRunner().invoke(app, ["audit", *args])
    return result.exit_code, result.output.splitlines()


def _sql(db_url: str, statement: str) -> None:
    engine = create_engine(db_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement))
    finally:
        engine.dispose()


def test_verify_intact_then_tampered(db_url: str, tmp_path: Path) -> None:
    _fill(db_url, tmp_path)
    where = ["--db", db_url, "--data-dir", str(tmp_path)]
    code, lines = _cli("verify", *where)
    assert code == 0
    assert len(lines) == 1
    assert lines[0].startswith(f"audit log intact: {ENTRIES} entries (seq 1..{ENTRIES})")

    _sql(db_url, "UPDATE audit_log SET agent = 'someone-else', entry = REPLACE(entry, 'user-2', 'user-9') "
                 "WHERE seq = 3" if db_url.startswith("sqlite") else
         "UPDATE audit_log SET entry = convert_to(replace(convert_from(entry, 'UTF8'), 'user-2', 'user-9'), "
         "'UTF8') WHERE seq = 3")
    code, lines = _cli("verify", *where)
    assert code == 1
    assert lines[0] == "seq 3: entry modified: its content no longer matches its chain hash"
    assert lines[-1] == "audit log TAMPERED: 1 problem(s), first at seq 3"

    _sql(db_url, "DELETE FROM audit_log WHERE seq = 5")
    code, lines = _cli("verify", *where)
    assert code == 1
    assert "seq 5: entry missing (seq 5 is not in the log): entries were deleted" in lines


def test_exported_checkpoints_reveal_a_cut_tail(db_url: str, tmp_path: Path) -> None:
    _fill(db_url, tmp_path)
    where = ["--db", db_url, "--data-dir", str(tmp_path)]
    exported = tmp_path / "checkpoints.jsonl"
    code, lines = _cli("checkpoint", *where, "--export", str(exported))
    assert code == 0
    assert lines[0].startswith(f"checkpoint: size {ENTRIES}, head ")
    assert len(exported.read_text().splitlines()) == 1
    code, lines = _cli("verify", *where, "--checkpoints", str(exported))
    assert code == 0
    assert "1 signed checkpoint(s) verified, newest at size 8" in lines[0]

    _sql(db_url, "DELETE FROM audit_log WHERE seq > 5")
    _sql(db_url, "DELETE FROM audit_checkpoints")
    code, lines = _cli("verify", *where)
    assert code == 0  # the database alone cannot tell a cut tail from a shorter log...
    code, lines = _cli("verify", *where, "--checkpoints", str(exported))
    assert code == 1  # ...the exported checkpoint can
    assert lines[0] == ("seq 6: the log ends at seq 5 but a signed checkpoint covers 8 entries: entries 6..8 were "
                        "removed (truncated)")


def test_export_then_verify_the_file(db_url: str, tmp_path: Path) -> None:
    _fill(db_url, tmp_path)
    out = tmp_path / "log.jsonl"
    code, lines = _cli("export", str(out), "--db", db_url, "--data-dir", str(tmp_path))
    assert code == 0
    assert lines == [f"{ENTRIES} entries written to {out}"]
    code, lines = _cli("verify", "--data-dir", str(tmp_path), "--log", str(out))
    assert code == 0
    assert lines[0].startswith(f"audit log intact: {ENTRIES} entries")
