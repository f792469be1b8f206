"""The encryption boundary: every resource payload the store writes or reads passes through here.

The context binds a ciphertext to where it belongs (tenant, resource type, id, version), so that
authenticated encryption refuses rows swapped between places. ``patient`` says whose data key seals a
write (None: the tenant's shared key); reads do not need it, the envelope names its key.

Data keys are stored wrapped in the store's own ``data_keys`` table, seen through :class:`KeyTable`
inside the unit of work that seals or opens, so a key created for a write commits (or rolls back)
with it. :class:`ehr.crypto.cipher.EnvelopeCipher` is the production cipher; :class:`IdentityCipher`
stores bytes unchanged (``Settings.encryption`` off, and the in-memory test store).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True, slots=True)
class PayloadContext:
    tenant: str
    resource_type: str
    id: str
    version: int
    #: the patient whose data key seals this payload (writes only); None: the tenant's shared key
    patient: str | None = None


@dataclass(frozen=True, slots=True)
class WrappedKey:
    """One row of ``data_keys``: a data key wrapped by its tenant's key-encryption key (KEK).

    ``owner`` is ``patient:<id>`` or ``tenant`` (the shared key); ``wrapped`` is None once the key was
    destroyed (crypto-shredding), and ``owner`` then None too, so the patient can get a new key."""

    key_id: str
    tenant: str
    owner: str | None
    kek_version: int
    wrapped: bytes | None


class KeyTable(Protocol):
    """The wrapped data keys as one unit of work sees them."""

    def by_owner(self, tenant: str, owner: str) -> WrappedKey | None: ...

    def by_id(self, key_id: str) -> WrappedKey | None: ...

    def insert(self, key: WrappedKey) -> None:
        """Insert ``key`` unless (tenant, owner) already has one (then nothing happens: read it back)."""
        ...

    def durable(self, key_id: str) -> bool:
        """False for a key inserted by this unit of work (not committed yet): never cache those."""
        ...


class DataKeyErased(Exception):
    """The payload's data key was destroyed on purpose (crypto-shredding): it can never be read again."""


class PayloadCipher(Protocol):
    def seal(self, plaintext: bytes, context: PayloadContext, keys: KeyTable) -> bytes: ...

    def open(self, ciphertext: bytes, context: PayloadContext, keys: KeyTable) -> bytes:
        """The plaintext; ``DataKeyErased`` when its key was shredded, else the opaque
        ``ehr.crypto.envelope.DecryptionError`` for any failure."""
        ...


class IdentityCipher:
    """Stores payloads as they are (encryption switched off)."""

    def seal(self, plaintext: bytes, context: PayloadContext, keys: KeyTable) -> bytes:
        return plaintext

    def open(self, ciphertext: bytes, context: PayloadContext, keys: KeyTable) -> bytes:
        return ciphertext
