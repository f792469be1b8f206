"""Local key-file KEKs (ehr.crypto.kek): created private on first use, refused when others can read them,
rotation keeps older versions decrypt-only, and wrapped keys are bound to their tenant and version."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from ehr.crypto.envelope import DecryptionError
from ehr.crypto.kek import LocalKekSource, tenant_folder
from ehr.crypto.keyfiles import KeyFileError

DEK = bytes(range(32))


def test_first_use_creates_a_private_key_file(tmp_path: Path) -> None:
    source = LocalKekSource(tmp_path / "kek")
    version, wrapped = source.wrap("hospital-a", DEK)
    assert version == 1
    path = tmp_path / "kek" / tenant_folder("hospital-a") / "1.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert DEK not in wrapped
    assert source.unwrap("hospital-a", 1, wrapped) == DEK


def test_a_key_file_others_can_read_is_refused(tmp_path: Path) -> None:
    LocalKekSource(tmp_path / "kek").wrap("hospital-a", DEK)
    path = tmp_path / "kek" / tenant_folder("hospital-a") / "1.key"
    os.chmod(path, 0o644)
    with pytest.raises(KeyFileError, match="chmod 600"):
        LocalKekSource(tmp_path / "kek").wrap("hospital-a", DEK)


def test_rotation_keeps_old_versions_decrypt_only(tmp_path: Path) -> None:
    source = LocalKekSource(tmp_path / "kek")
    _, old = source.wrap("t", DEK)
    assert source.rotate("t") == 2
    version, new = source.wrap("t", DEK)
    assert version == 2
    assert source.unwrap("t", 1, old) == DEK
    assert source.unwrap("t", 2, new) == DEK
    moved_version, moved = source.rewrap("t", 1, old)
    assert moved_version == 2
    assert source.unwrap("t", 2, moved) == DEK


def test_another_process_sees_a_rotation(tmp_path: Path) -> None:
    clock = [0.0]
    server = LocalKekSource(tmp_path / "kek", refresh_s=5, clock=lambda: clock[0])
    server.wrap("t", DEK)
    cli = LocalKekSource(tmp_path / "kek")
    _, by_cli = cli.wrap("t", DEK)
    cli.rotate("t")
    _, rewrapped = cli.rewrap("t", 1, by_cli)
    assert server.unwrap("t", 2, rewrapped) == DEK  # an unknown version is loaded on demand
    clock[0] = 6.0
    assert server.wrap("t", DEK)[0] == 2  # and the newest version is re-read after refresh_s


@pytest.mark.parametrize("tamper", ["tenant", "version", "byte"])
def test_wrapped_keys_are_bound(tmp_path: Path, tamper: str) -> None:
    source = LocalKekSource(tmp_path / "kek")
    source.wrap("other", DEK)
    _, wrapped = source.wrap("t", DEK)
    source.rotate("t")
    tenant, version = ("other", 1) if tamper == "tenant" else ("t", 2 if tamper == "version" else 1)
    if tamper == "byte":
        wrapped = wrapped[:-1] + bytes([wrapped[-1] ^ 1])
    with pytest.raises(DecryptionError):
        source.unwrap(tenant, version, wrapped)


def test_tenant_names_cannot_escape_the_key_folder(tmp_path: Path) -> None:
    source = LocalKekSource(tmp_path / "kek")
    source.wrap("../../etc", DEK)
    assert [p.name for p in (tmp_path / "kek").iterdir()] == [tenant_folder("../../etc")]
    assert "/" not in tenant_folder("../../etc")


def test_retire_destroys_the_older_versions_only(tmp_path: Path) -> None:
    source = LocalKekSource(tmp_path / "kek")
    _, v1 = source.wrap("t", DEK)
    source.rotate("t")
    source.rotate("t")
    version, v3 = source.wrap("t", DEK)
    assert source.retire("t", version) == [1, 2]
    folder = tmp_path / "kek" / tenant_folder("t")
    assert sorted(p.name for p in folder.iterdir()) == ["3.key"]
    with pytest.raises(DecryptionError):
        source.unwrap("t", 1, v1)
    with pytest.raises(DecryptionError):  # a fresh process cannot open it either
        LocalKekSource(tmp_path / "kek").unwrap("t", 1, v1)
    assert source.unwrap("t", 3, v3) == DEK
    assert source.retire("t", 99) == []  # the newest version is never retired
