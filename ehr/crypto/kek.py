"""Key-encryption keys (KEKs), one per hospital (tenant), behind one interface, and the default source:
local key files.

A :class:`KekSource` wraps and unwraps data keys under the tenant's KEK and rotates it. Every KEK has
versions: ``wrap`` always uses the newest, ``unwrap`` accepts any version still held (older versions
stay decrypt-only after a rotation, as pyca/cryptography's MultiFernet keeps old keys), and ``rewrap``
moves a wrapped key to the newest version without the data key ever leaving the source in the clear
(Vault) or this process (local files).

Local layout, under ``<data dir>/keys/kek/<tenant as hex>/``: ``1.key``, ``2.key``, ... (32 random
bytes each, mode 0600, in 0700 folders, through ``ehr.crypto.keyfiles``). Version 1 is generated on
first use; ``rotate`` adds the next file. Wrapped format: 12-byte nonce | AES-256-GCM ciphertext+tag,
with the tenant and version as associated data. A server notices versions added by another process
(``ehr keys rotate``) when it meets one it does not hold, and re-reads the newest version at most every
``refresh_s`` seconds.
"""

from __future__ import annotations

import os
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ehr.crypto.envelope import DecryptionError
from ehr.crypto.keyfiles import KeyFileError, check_private, load_or_create_secret, write_private

_NONCE = 12
_VERSION_FILE = re.compile(r"^([1-9][0-9]{0,8})\.key$")


class KekUnavailable(Exception):
    """The key-encryption key cannot be reached (Vault down or refusing); the message says why."""


class KekSource(Protocol):
    def wrap(self, tenant: str, data_key: bytes) -> tuple[int, bytes]:
        """``data_key`` wrapped under the tenant's newest KEK version: (version, wrapped bytes)."""
        ...

    def unwrap(self, tenant: str, version: int, wrapped: bytes) -> bytes:
        """The data key; ``DecryptionError`` when ``wrapped`` does not open under that version."""
        ...

    def rotate(self, tenant: str) -> int:
        """Make a new KEK version the one ``wrap`` uses; returns it. Older versions stay decrypt-only."""
        ...

    def rewrap(self, tenant: str, version: int, wrapped: bytes) -> tuple[int, bytes]:
        """``wrapped`` (under ``version``) wrapped again under the newest version."""
        ...

    def newest(self, tenant: str) -> int:
        """The version ``wrap`` uses now."""
        ...

    def retire(self, tenant: str, below: int) -> list[int]:
        """Destroy every KEK version older than ``below`` (never the newest); returns those destroyed.
        Whatever is still wrapped under them can never be opened again: callers check first
        (``ehr.crypto.maintenance.retire_tenant``)."""
        ...


def tenant_folder(tenant: str) -> str:
    """A file-system-safe, reversible name for a tenant (its UTF-8 bytes in hex)."""
    return tenant.encode().hex() or "00"


class LocalKekSource:
    """KEKs in local key files (the default source)."""

    def __init__(self, folder: Path, *, refresh_s: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.folder = folder
        self._refresh_s = refresh_s
        self._clock = clock
        self._lock = threading.Lock()
        self._keys: dict[str, dict[int, AESGCM]] = {}
        self._checked: dict[str, float] = {}

    def wrap(self, tenant: str, data_key: bytes) -> tuple[int, bytes]:
        version, kek = self._newest(tenant)
        nonce = os.urandom(_NONCE)
        return version, nonce + kek.encrypt(nonce, data_key, _ad(tenant, version))

    def unwrap(self, tenant: str, version: int, wrapped: bytes) -> bytes:
        kek = self._version(tenant, version)
        try:
            return kek.decrypt(wrapped[:_NONCE], wrapped[_NONCE:], _ad(tenant, version))
        except (InvalidTag, ValueError):
            raise DecryptionError from None

    def rotate(self, tenant: str) -> int:
        self._newest(tenant)  # version 1 exists before there can be a version 2
        folder = self._tenant_folder(tenant)
        while True:
            version = max(_versions_on_disk(folder), default=0) + 1
            try:
                write_private(folder / f"{version}.key", os.urandom(32))
            except FileExistsError:
                continue  # another rotation took this number; take the next one
            with self._lock:
                self._checked.pop(tenant, None)
            return version

    def rewrap(self, tenant: str, version: int, wrapped: bytes) -> tuple[int, bytes]:
        return self.wrap(tenant, self.unwrap(tenant, version, wrapped))

    def newest(self, tenant: str) -> int:
        return max(_versions_on_disk(self._tenant_folder(tenant)), default=0) or self._newest(tenant)[0]

    def retire(self, tenant: str, below: int) -> list[int]:
        """Overwrite each old key file with zeros (flushed), then unlink it. On SSDs and copy-on-write
        file systems an overwrite does not guarantee the old blocks are gone: keep the key folder on
        an encrypted volume, or use Vault, where ``trim`` deletes the versions for good."""
        folder = self._tenant_folder(tenant)
        below = min(below, self.newest(tenant))
        gone = sorted(v for v in _versions_on_disk(folder) if v < below)
        for version in gone:
            path = folder / f"{version}.key"
            fd = os.open(path, os.O_WRONLY)
            try:
                os.write(fd, bytes(32))
                os.fsync(fd)
            finally:
                os.close(fd)
            path.unlink()
        with self._lock:
            held = self._keys.get(tenant, {})
            for version in gone:
                held.pop(version, None)
        return gone

    def _tenant_folder(self, tenant: str) -> Path:
        return self.folder / tenant_folder(tenant)

    def _newest(self, tenant: str) -> tuple[int, AESGCM]:
        with self._lock:
            held = self._keys.get(tenant)
            fresh = self._clock() - self._checked.get(tenant, float("-inf")) < self._refresh_s
            if held and fresh:
                version = max(held)
                return version, held[version]
        folder = self._tenant_folder(tenant)
        newest = max(_versions_on_disk(folder), default=0)
        if newest == 0:
            load_or_create_secret(folder / "1.key")
            newest = max(_versions_on_disk(folder))
        kek = self._load(tenant, newest)
        with self._lock:
            self._checked[tenant] = self._clock()
        return newest, kek

    def _version(self, tenant: str, version: int) -> AESGCM:
        with self._lock:
            found = self._keys.get(tenant, {}).get(version)
        return found if found is not None else self._load(tenant, version)

    def _load(self, tenant: str, version: int) -> AESGCM:
        path = self._tenant_folder(tenant) / f"{version}.key"
        if not path.exists():
            raise DecryptionError
        check_private(path)
        secret = path.read_bytes()
        if len(secret) != 32:
            raise KeyFileError(f"{path} holds {len(secret)} bytes, expected 32; restore it from backup.")
        kek = AESGCM(secret)
        with self._lock:
            self._keys.setdefault(tenant, {})[version] = kek
        return kek


def _versions_on_disk(folder: Path) -> list[int]:
    if not folder.is_dir():
        return []
    return [int(m.group(1)) for name in os.listdir(folder) if (m := _VERSION_FILE.match(name))]


def _ad(tenant: str, version: int) -> bytes:
    return b"ehr-kek-v1\x00" + tenant.encode() + b"\x00" + str(version).encode()
