"""Domain-separated SHA-256 hashing of the audit log, after RFC 6962 section 2.1
(https://www.rfc-editor.org/rfc/rfc6962#section-2.1): a leaf is hashed with a 0x00 prefix and every
interior value with 0x01, so no entry can be passed off as a chain value or the reverse
(transparency-dev/merkle ``rfc6962/rfc6962.go`` does the same).

The log is a hash chain in ``seq`` order::

    leaf(n)  = SHA-256(0x00 || entry(n))
    chain(0) = SHA-256("")                       (RFC 6962's hash of the empty list)
    chain(n) = SHA-256(0x01 || chain(n-1) || leaf(n))

``chain(n)`` commits to every entry up to ``n`` and to their order; a signed checkpoint
``(n, chain(n))`` commits to the whole log of size ``n``.
"""

from __future__ import annotations

import hashlib

LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
#: chain(0): the hash of the empty log
GENESIS = hashlib.sha256(b"").digest()

_LEAF = hashlib.sha256(LEAF_PREFIX)


def leaf_hash(entry: bytes) -> bytes:
    h = _LEAF.copy()
    h.update(entry)
    return h.digest()


def chain_hash(previous: bytes, leaf: bytes) -> bytes:
    return hashlib.sha256(NODE_PREFIX + previous + leaf).digest()


def next_chain(previous: bytes, entry: bytes) -> bytes:
    """chain(n) from chain(n-1) and entry(n)."""
    return chain_hash(previous, leaf_hash(entry))
