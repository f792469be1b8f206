"""Data keys: one per patient (so one patient can be crypto-shredded), one shared per tenant for
resources outside any patient's compartment; each wrapped by its tenant's KEK and stored in
``data_keys``.

Creating a key is race-safe across threads and worker processes: the insert is "on conflict do
nothing" on the unique (tenant, owner) pair, and the key is then read back, so every writer ends up
with the one key that won. What the KEK wraps is the key id followed by the key, so a wrapped key
copied to another row (another id) does not unwrap.
"""

from __future__ import annotations

import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ehr.crypto.boundary import DataKeyErased, KeyTable, WrappedKey
from ehr.crypto.cache import DataKey, KeyCache
from ehr.crypto.envelope import KEY_BYTES, DecryptionError
from ehr.crypto.kek import KekSource

SHARED_OWNER = "tenant"


def owner_of(patient: str | None) -> str:
    """The ``data_keys.owner`` of a patient's key, or of the tenant's shared key."""
    return f"patient:{patient}" if patient else SHARED_OWNER


def new_key_id() -> str:
    return secrets.token_hex(12)


class DataKeyRing:
    def __init__(self, source: KekSource, cache: KeyCache) -> None:
        self.source = source
        self.cache = cache

    def for_write(self, tenant: str, patient: str | None, keys: KeyTable) -> DataKey:
        """The key that seals a new version for ``patient`` (None: the tenant's shared key), created
        on first use."""
        owner = owner_of(patient)
        cached = self.cache.get_owner(tenant, owner)
        if cached is not None:
            return cached
        row = keys.by_owner(tenant, owner)
        if row is None:
            created = self._create(tenant, owner, keys)
            row = keys.by_owner(tenant, owner)
            if row is None:  # pragma: no cover - the insert or a concurrent one must be visible
                raise DecryptionError
            if row.key_id == created.key_id:
                return self._remember(created, keys)
        return self._remember(self._unwrap(row), keys)

    def for_read(self, key_id: str, keys: KeyTable) -> DataKey:
        """The key named by an envelope; ``DataKeyErased`` once shredded, ``DecryptionError`` when the
        key is missing or does not unwrap."""
        cached = self.cache.get(key_id)
        if cached is not None:
            return cached
        row = keys.by_id(key_id)
        if row is None:
            raise DecryptionError
        return self._remember(self._unwrap(row), keys)

    def _create(self, tenant: str, owner: str, keys: KeyTable) -> DataKey:
        key_id = new_key_id()
        secret = AESGCM.generate_key(bit_length=KEY_BYTES * 8)
        version, wrapped = self.source.wrap(tenant, _payload(key_id, secret))
        keys.insert(WrappedKey(key_id, tenant, owner, version, wrapped))
        return DataKey(key_id, tenant, owner, AESGCM(secret))

    def _unwrap(self, row: WrappedKey) -> DataKey:
        if row.wrapped is None or row.owner is None:
            raise DataKeyErased(row.key_id)
        payload = self.source.unwrap(row.tenant, row.kek_version, row.wrapped)
        prefix = row.key_id.encode() + b"\x00"
        if not payload.startswith(prefix) or len(payload) != len(prefix) + KEY_BYTES:
            raise DecryptionError
        return DataKey(row.key_id, row.tenant, row.owner, AESGCM(payload[len(prefix):]))

    def _remember(self, key: DataKey, keys: KeyTable) -> DataKey:
        if keys.durable(key.key_id):
            self.cache.put(key)
        return key


def _payload(key_id: str, secret: bytes) -> bytes:
    return key_id.encode() + b"\x00" + secret
