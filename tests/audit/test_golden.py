"""The golden tampered logs (``tests/golden/audit/``, written by ``tests.audit.golden_build``): each
exported log, verified against the exported checkpoints, gives exactly its expected report — through
the library and through ``ehr audit verify --log FILE --checkpoints FILE`` (exit 0 intact, 1 tampered)."""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from typer.testing import CliRunner

from ehr.audit.checkpoints import KEY_FILE, read_lines
from ehr.audit.export import read_rows
from ehr.audit.verify import verify
from ehr.cli.main import app
from ehr.crypto.keyfiles import write_private

from .golden_build import CASES, GOLDEN
from .logs import TEST_SEED

PUBLIC = Ed25519PublicKey.from_public_bytes(bytes.fromhex((GOLDEN / "signing.pub").read_text().strip()))
LOGS = sorted(CASES)


def _expected(name: str) -> list[str]:
    return (GOLDEN / f"{name}.expected").read_text().splitlines()


@pytest.mark.parametrize("name", LOGS)
def test_golden_log_gives_its_expected_report(name: str) -> None:
    report = verify(read_rows(GOLDEN / f"{name}.jsonl"), read_lines(GOLDEN / "checkpoints.jsonl"), PUBLIC)
    assert report.lines() == _expected(name)
    assert report.intact == (name == "intact")


def test_forged_checkpoint_is_reported() -> None:
    report = verify(read_rows(GOLDEN / "intact.jsonl"), read_lines(GOLDEN / "forged-checkpoints.jsonl"), PUBLIC)
    assert report.lines() == _expected("forged-checkpoints")


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """A data folder holding the test signing key (the one that signed the golden checkpoints)."""
    write_private(tmp_path / "keys" / KEY_FILE, TEST_SEED)
    return tmp_path


@pytest.mark.parametrize("name", LOGS)
def test_cli_verify_of_golden_logs(name: str, data_dir: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(data_dir), "--log",
                                      str(GOLDEN / f"{name}.jsonl"), "--checkpoints",
                                      str(GOLDEN / "checkpoints.jsonl")])
    assert result.stdout.splitlines() == _expected(name)
    assert result.exit_code == (0 if name == "intact" else 1)


def test_cli_verify_without_key_exits_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(tmp_path), "--log",
                                      str(GOLDEN / "intact.jsonl")])
    assert result.exit_code == 2
    assert "no audit signing key" in result.output


def test_cli_verify_of_unreadable_file_exits_2(data_dir: Path) -> None:
    broken = data_dir / "broken.jsonl"
    broken.write_text('{"seq": 1}\n')
    result = CliRunner().invoke(app, ["audit", "verify", "--data-dir", str(data_dir), "--log", str(broken)])
    assert result.exit_code == 2
    assert "is not an exported audit entry" in result.output
