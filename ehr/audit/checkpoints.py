"""Signed checkpoints of the audit chain: ``(size, head, time)`` signed with Ed25519, so that a log
rewritten or cut short by someone without the signing key no longer matches.

The signed message is domain-separated text, one field per line::

    ehr-audit-checkpoint/v1
    <size>
    <head, lower-case hex>
    <time, microseconds since the Unix epoch>

Checkpoints are stored in ``audit_checkpoints`` and exported as JSON lines (``ehr audit checkpoint
--export FILE``), one object per checkpoint: ``{"size", "head", "time", "key_id", "signature"}`` with
``head`` in hex and ``signature`` in base64. Copies kept outside the database reveal truncation: a log
that ends before an exported checkpoint's size has lost its tail.

The signing key is an Ed25519 seed in ``<data_dir>/keys/audit-signing.key``, generated on first start
(``ehr.crypto.keyfiles``: mode 0600, refused when others can read it). ``key_id`` is the first 16 hex
digits of SHA-256 of the raw public key.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from ehr.crypto.keyfiles import load_or_create_secret

DOMAIN = b"ehr-audit-checkpoint/v1\n"
KEY_FILE = "audit-signing.key"


@dataclass(frozen=True, slots=True)
class Checkpoint:
    size: int
    head: bytes
    time: int
    key_id: str
    signature: bytes

    def to_json(self) -> bytes:
        return orjson.dumps({"size": self.size, "head": self.head.hex(), "time": self.time, "key_id": self.key_id,
                             "signature": base64.b64encode(self.signature).decode()})


class CheckpointFormatError(ValueError):
    """A line of an exported checkpoint file cannot be read."""


def message(size: int, head: bytes, time: int) -> bytes:
    return DOMAIN + f"{size}\n{head.hex()}\n{time}\n".encode()


def raw_public(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_id(key: Ed25519PublicKey) -> str:
    return hashlib.sha256(raw_public(key)).hexdigest()[:16]


class Signer:
    """Signs checkpoints with the log's Ed25519 key."""

    def __init__(self, private: Ed25519PrivateKey) -> None:
        self._private = private
        self.public = private.public_key()
        self.key_id = key_id(self.public)

    @staticmethod
    def from_data_dir(data_dir: Path) -> Signer:
        """The signer of ``data_dir``: its key file, created on first use."""
        seed = load_or_create_secret(data_dir / "keys" / KEY_FILE, 32)
        return Signer(Ed25519PrivateKey.from_private_bytes(seed))

    def sign(self, size: int, head: bytes, time: int) -> Checkpoint:
        return Checkpoint(size, head, time, self.key_id, self._private.sign(message(size, head, time)))


def signature_valid(checkpoint: Checkpoint, public: Ed25519PublicKey) -> bool:
    if checkpoint.key_id != key_id(public):
        return False
    try:
        public.verify(checkpoint.signature, message(checkpoint.size, checkpoint.head, checkpoint.time))
    except InvalidSignature:
        return False
    return True


def export_lines(checkpoints: Iterable[Checkpoint]) -> bytes:
    return b"".join(c.to_json() + b"\n" for c in checkpoints)


def read_lines(path: Path) -> Iterator[Checkpoint]:
    """The checkpoints of an exported JSON-lines file."""
    for number, line in enumerate(path.read_bytes().splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = orjson.loads(line)
            yield Checkpoint(int(item["size"]), bytes.fromhex(item["head"]), int(item["time"]), str(item["key_id"]),
                             base64.b64decode(item["signature"], validate=True))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            raise CheckpointFormatError(f"{path}:{number} is not a checkpoint ({exc}); restore the file from "
                                        "its copy") from None
