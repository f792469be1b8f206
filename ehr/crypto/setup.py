"""Building the encryption boundary from :class:`ehr.settings.Settings`: the KEK source (local key files
under ``<data dir>/keys/kek``, or Vault when ``vault_addr`` is set), the key ring and its cache, and
the blind-index key. Called by ``ehr.api.app`` and the ``ehr keys`` commands, nowhere else."""

from __future__ import annotations

from ehr.crypto.blind import BlindIndexKey
from ehr.crypto.boundary import IdentityCipher, PayloadCipher
from ehr.crypto.cache import KeyCache
from ehr.crypto.cipher import EnvelopeCipher
from ehr.crypto.kek import KekSource, LocalKekSource
from ehr.crypto.keyring import DataKeyRing
from ehr.crypto.vault import VaultTransitSource
from ehr.settings import Settings


class VaultSettingsError(ValueError):
    """Vault is half configured; the message says what is missing."""


def open_kek_source(settings: Settings) -> KekSource:
    if settings.vault_addr:
        if not settings.vault_token:
            raise VaultSettingsError("EHR_VAULT_ADDR is set but EHR_VAULT_TOKEN is not; give the Vault token "
                                     "(--vault-token or EHR_VAULT_TOKEN).")
        return VaultTransitSource(settings.vault_addr, settings.vault_token, mount=settings.vault_mount)
    return LocalKekSource(settings.keys_dir / "kek")


def open_cipher(settings: Settings) -> PayloadCipher:
    """Envelope encryption, or the identity cipher when ``settings.encryption`` is off."""
    if not settings.encryption:
        return IdentityCipher()
    cache = KeyCache(settings.key_cache_size, settings.key_cache_ttl_s)
    return EnvelopeCipher(DataKeyRing(open_kek_source(settings), cache))


def open_blind_key(settings: Settings) -> BlindIndexKey | None:
    """The blind-index key (None when encryption is off: index values are then stored in the clear)."""
    if not settings.encryption:
        return None
    return BlindIndexKey.load(settings.keys_dir / "blind-index.key")
