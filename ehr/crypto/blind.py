"""Keyed blind-index digests: HMAC-SHA256 under a secret key, truncated to 128 bits (32 hex digits).

Equal inputs give equal digests, so the store can answer equality on values it never holds in the
clear; without the key nobody can test a guess against a digest (unlike a plain hash, which a
dictionary of names would invert). Every digest is scoped (resource type, parameter and the kind of
value, e.g. ``Patient|family|prefix``) so the same text in two places gives unrelated digests.

What the digests still reveal is documented in the README ("What the stored search index reveals").
The key is a local key file (``<data dir>/keys/blind-index.key``), created on first start.
"""

from __future__ import annotations

import hmac
from pathlib import Path

from ehr.crypto.keyfiles import load_or_create_secret

DIGEST_BYTES = 16


class BlindIndexKey:
    def __init__(self, secret: bytes) -> None:
        if len(secret) < 32:
            raise ValueError("a blind-index key has at least 32 bytes")
        self._secret = secret
        #: HMAC states with the key and a scope already absorbed; a digest copies one (scopes are few:
        #: resource type x parameter x kind)
        self._scoped: dict[str, hmac.HMAC] = {}

    @classmethod
    def load(cls, path: Path) -> BlindIndexKey:
        return cls(load_or_create_secret(path))

    def digest(self, scope: str, value: str) -> str:
        """HMAC-SHA256(key, scope || 0x00 || value), truncated to ``DIGEST_BYTES``, in hex."""
        base = self._scoped.get(scope)
        if base is None:
            base = self._scoped[scope] = hmac.new(self._secret, scope.encode() + b"\x00", "sha256")
        state = base.copy()
        state.update(value.encode())
        return state.digest()[:DIGEST_BYTES].hex()
