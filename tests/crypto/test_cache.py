"""The data-key cache (ehr.crypto.cache): bounded by LRU, and every entry expires after the TTL."""

from __future__ import annotations

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ehr.crypto.cache import DataKey, KeyCache

AEAD = AESGCM(bytes(32))


def _key(n: int) -> DataKey:
    return DataKey(f"k{n}", "t", f"patient:{n}", AEAD)


def test_least_recently_used_goes_first() -> None:
    cache = KeyCache(max_keys=2, ttl_s=60)
    cache.put(_key(1))
    cache.put(_key(2))
    assert cache.get("k1") is not None  # k2 is now the least recently used
    cache.put(_key(3))
    assert len(cache) == 2
    assert cache.get("k2") is None
    assert cache.get("k1") is not None
    assert cache.get_owner("t", "patient:3") is not None


def test_entries_expire_after_the_ttl() -> None:
    now = [0.0]
    cache = KeyCache(max_keys=10, ttl_s=30, clock=lambda: now[0])
    cache.put(_key(1))
    now[0] = 29.9
    assert cache.get("k1") is not None
    now[0] = 30.0
    assert cache.get("k1") is None
    assert cache.get_owner("t", "patient:1") is None
    assert len(cache) == 0


def test_forget_owner_and_disabled_cache() -> None:
    cache = KeyCache(max_keys=10, ttl_s=30)
    cache.put(_key(1))
    cache.forget_owner("t", "patient:1")
    assert cache.get("k1") is None
    off = KeyCache(max_keys=10, ttl_s=0)
    off.put(_key(1))
    assert off.get("k1") is None
