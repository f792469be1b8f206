"""The envelope: one resource payload sealed with AES-256-GCM under a data key.

Byte format (version 1)::

    offset  size  field
    0       1     format version, 0x01
    1       1     n = length of the data-key id in bytes (1..255)
    2       n     data-key id (ASCII), the row of ``data_keys`` whose key sealed this payload
    2+n     12    nonce, random per seal (96 bits, as NIST SP 800-38D recommends)
    14+n    ...   AES-256-GCM ciphertext followed by its 16-byte tag

The associated data (authenticated, not stored) binds the ciphertext to where it belongs: the
tenant, resource type, id and version of the row, and the data-key id. Each field is length-prefixed
(4 bytes, big-endian) after a domain label, so no two different contexts give the same bytes. A row
copied to another resource, tenant or version, an envelope whose key id was edited, or any flipped
bit fails to open.

Every failure to open — truncated or unknown-version envelope, wrong key, edited byte, mismatched
context — raises the one opaque :class:`DecryptionError`, which says nothing about the cause.
Nonces are generated here and never leave this module.

Spec: NIST SP 800-38D (GCM); ``cryptography``'s AESGCM. Key rings with decrypt-only older keys live in
``ehr.crypto.keyring``.
"""

from __future__ import annotations

import os
import struct
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT_VERSION = 1
KEY_BYTES = 32
_NONCE_BYTES = 12
_TAG_BYTES = 16
_AD_LABEL = b"ehr-envelope-v1"


class DecryptionError(Exception):
    """A payload could not be opened. Deliberately opaque: the cause is never told."""

    def __init__(self) -> None:
        super().__init__("the stored payload could not be decrypted")


@dataclass(frozen=True, slots=True)
class Binding:
    """What a ciphertext is bound to (the associated data): where the row lives and which key sealed it."""

    tenant: str
    resource_type: str
    id: str
    version: int

    def associated_data(self, key_id: str) -> bytes:
        parts = (self.tenant, self.resource_type, self.id, str(self.version), key_id)
        out = bytearray(_AD_LABEL)
        for part in parts:
            data = part.encode()
            out += struct.pack(">I", len(data)) + data
        return bytes(out)


def seal(key: AESGCM, key_id: str, plaintext: bytes, binding: Binding) -> bytes:
    """The envelope of ``plaintext`` under the data key ``key`` named ``key_id``, bound to ``binding``.
    (The key is an ``AESGCM`` built once from the 32 key bytes: the key ring caches it.)"""
    encoded = key_id.encode("ascii")
    if not 0 < len(encoded) < 256:
        raise ValueError("a data-key id is 1 to 255 ASCII characters")
    nonce = os.urandom(_NONCE_BYTES)
    body = key.encrypt(nonce, plaintext, binding.associated_data(key_id))
    return bytes((FORMAT_VERSION, len(encoded))) + encoded + nonce + body


def key_id_of(envelope: bytes) -> str:
    """The data-key id an envelope names (all a reader needs to find its key)."""
    if len(envelope) < 2 or envelope[0] != FORMAT_VERSION:
        raise DecryptionError
    n = envelope[1]
    if n == 0 or len(envelope) < 2 + n + _NONCE_BYTES + _TAG_BYTES:
        raise DecryptionError
    try:
        return envelope[2 : 2 + n].decode("ascii")
    except UnicodeDecodeError:
        raise DecryptionError from None


def open_envelope(key: AESGCM, envelope: bytes, binding: Binding) -> bytes:
    """The plaintext of ``envelope``; :class:`DecryptionError` for anything wrong."""
    key_id = key_id_of(envelope)
    start = 2 + envelope[1]
    nonce = envelope[start : start + _NONCE_BYTES]
    try:
        return key.decrypt(nonce, envelope[start + _NONCE_BYTES :], binding.associated_data(key_id))
    except (InvalidTag, ValueError):
        raise DecryptionError from None
