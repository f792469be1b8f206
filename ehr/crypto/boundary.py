"""The encryption boundary: every resource payload the store writes or reads passes through here.

The context binds a ciphertext to where it belongs (tenant, resource type, id, version), so that an
implementation using authenticated encryption can refuse rows swapped between places. The identity
cipher is the seam's default until envelope encryption is switched on; it stores bytes unchanged.
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


class PayloadCipher(Protocol):
    def seal(self, plaintext: bytes, context: PayloadContext) -> bytes: ...

    def open(self, ciphertext: bytes, context: PayloadContext) -> bytes: ...


class IdentityCipher:
    """Stores payloads as they are. Encryption at rest replaces it without touching the store."""

    def seal(self, plaintext: bytes, context: PayloadContext) -> bytes:
        return plaintext

    def open(self, ciphertext: bytes, context: PayloadContext) -> bytes:
        return ciphertext
