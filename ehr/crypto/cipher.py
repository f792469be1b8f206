"""The production :class:`ehr.crypto.boundary.PayloadCipher`: envelope encryption of every stored
payload (current and historic versions) under the patient's data key (``ehr.crypto.keyring``), in the
byte format of ``ehr.crypto.envelope``."""

from __future__ import annotations

from ehr.crypto.boundary import KeyTable, PayloadContext
from ehr.crypto.envelope import Binding, key_id_of, open_envelope, seal
from ehr.crypto.keyring import DataKeyRing


class EnvelopeCipher:
    def __init__(self, ring: DataKeyRing) -> None:
        self.ring = ring

    def seal(self, plaintext: bytes, context: PayloadContext, keys: KeyTable) -> bytes:
        key = self.ring.for_write(context.tenant, context.patient, keys)
        return seal(key.aead, key.key_id, plaintext, _binding(context))

    def open(self, ciphertext: bytes, context: PayloadContext, keys: KeyTable) -> bytes:
        key = self.ring.for_read(key_id_of(ciphertext), keys)
        return open_envelope(key.aead, ciphertext, _binding(context))


def _binding(context: PayloadContext) -> Binding:
    return Binding(context.tenant, context.resource_type, context.id, context.version)
