"""The in-memory cache of unwrapped data keys: bounded (least recently used out first) and short-lived.

Unwrapping a data key costs a KEK operation (an AES-GCM open locally, an HTTP round trip with Vault),
so each worker process keeps the keys it used recently. Two limits:

- ``max_keys``: at most that many keys are held; the least recently used goes first.
- ``ttl_s``: a key is dropped that many seconds after it was unwrapped, used or not. This is how a
  shred (``ehr keys shred``, run in another process) reaches every worker: a worker may keep sealing
  with, or opening under, the destroyed key for at most ``ttl_s`` seconds. Reads of the shredded
  patient's resources answer 410 at once regardless (the store marks the rows erased); only a write
  for that patient in that window is sealed with the destroyed key, and becomes unreadable with it.

Only committed keys are cached (see ``KeyTable.durable``): a key created by a unit of work that is
rolled back must not outlive it.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from cryptography.hazmat.primitives.ciphers.aead import AESGCM


@dataclass(frozen=True, slots=True)
class DataKey:
    """An unwrapped data key, ready to seal and open (never logged, never stored in the clear)."""

    key_id: str
    tenant: str
    owner: str
    aead: AESGCM


class KeyCache:
    def __init__(self, max_keys: int = 10_000, ttl_s: float = 30.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_keys = max_keys
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()
        self._by_id: OrderedDict[str, tuple[DataKey, float]] = OrderedDict()
        self._by_owner: dict[tuple[str, str], str] = {}

    def get(self, key_id: str) -> DataKey | None:
        with self._lock:
            found = self._by_id.get(key_id)
            if found is None:
                return None
            key, expires = found
            if self._clock() >= expires:
                self._drop(key_id)
                return None
            self._by_id.move_to_end(key_id)
            return key

    def get_owner(self, tenant: str, owner: str) -> DataKey | None:
        with self._lock:
            key_id = self._by_owner.get((tenant, owner))
        return None if key_id is None else self.get(key_id)

    def put(self, key: DataKey) -> None:
        if self.max_keys <= 0 or self.ttl_s <= 0:
            return
        with self._lock:
            self._drop(key.key_id)
            self._by_id[key.key_id] = (key, self._clock() + self.ttl_s)
            self._by_owner[(key.tenant, key.owner)] = key.key_id
            while len(self._by_id) > self.max_keys:
                self._drop(next(iter(self._by_id)))

    def forget_owner(self, tenant: str, owner: str) -> None:
        """Drop the owner's key now (a shred in this process)."""
        with self._lock:
            key_id = self._by_owner.get((tenant, owner))
            if key_id is not None:
                self._drop(key_id)

    def __len__(self) -> int:
        return len(self._by_id)

    def _drop(self, key_id: str) -> None:
        found = self._by_id.pop(key_id, None)
        if found is not None:
            owner = (found[0].tenant, found[0].owner)
            if self._by_owner.get(owner) == key_id:
                del self._by_owner[owner]
