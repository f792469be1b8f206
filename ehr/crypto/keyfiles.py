"""Secret files on local disk: development keys generated on first start, never committed, and
refused when anyone but the owner could read them.

Every local secret of the service (key-encryption keys, the blind-index key, the audit signing key)
is created and loaded here, so the permission rules are written once.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import stat
from pathlib import Path


class KeyFileError(Exception):
    """A key file is unsafe (readable by others) or unreadable; the message says how to fix it."""


def check_private(path: Path) -> None:
    """Refuse ``path`` unless only its owner can read or write it (mode 0600 or stricter)."""
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise KeyFileError(
            f"{path} can be read by other users (mode {stat.S_IMODE(mode):04o}); "
            f"run `chmod 600 {path}` or delete it to have a new key generated."
        )


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to a new file that only the owner can read (created 0600, in a 0700 folder).
    Fails if the file already exists, so a key is never overwritten by accident.

    The file appears whole or not at all: the bytes go to a private temporary file first, which is
    then hard-linked to ``path`` (an atomic create-if-absent), so a concurrent reader never sees a
    half-written key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.link(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_or_create_secret(path: Path, nbytes: int = 32) -> bytes:
    """The secret in ``path``; generated (``nbytes`` random bytes) when the file does not exist yet.
    Refused when the file is readable by others or has the wrong length."""
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another worker created it first: read theirs
            write_private(path, secrets.token_bytes(nbytes))
    check_private(path)
    data = path.read_bytes()
    if len(data) != nbytes:
        raise KeyFileError(f"{path} holds {len(data)} bytes, expected {nbytes}; restore it from backup.")
    return data
