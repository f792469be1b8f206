"""Small audit logs built in memory for the verification tests: realistic AuditEvents, chained as the
SQL log chains them, with a fixed test signing key."""

from __future__ import annotations

import random

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from ehr.audit.boundary import AuditRecord, Touched
from ehr.audit.checkpoints import Checkpoint, Signer
from ehr.audit.events import prepare_events
from ehr.audit.log import link
from ehr.audit.verify import Row

#: a key for tests only (its seed is public); the service generates its own under data_dir/keys
TEST_SEED = bytes(range(32))
TEST_SIGNER = Signer(Ed25519PrivateKey.from_private_bytes(TEST_SEED))
START_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def sample_events(n: int, seed: int = 1) -> list[bytes]:
    rng = random.Random(seed)
    out: list[bytes] = []
    while len(out) < n:
        interaction = rng.choice(("read", "search-type", "create", "update", "delete", "history-instance"))
        patient = f"Patient/p{rng.randrange(5)}"
        record = AuditRecord(interaction, "hospital-a", f"user-{rng.randrange(3)}", rng.choice((200, 201, 404)),
                             "Observation", touched=(Touched(f"Observation/o{rng.randrange(50)}", (patient,),
                                                             "hospital-a"),),
                             roles=("clinician",), purpose_of_use="TREAT")
        out.extend(e.event for e in prepare_events(record, START_US + len(out) * 1_000_000))
    return out[:n]


def build_log(n: int, seed: int = 1) -> list[Row]:
    from ehr.audit.hashing import GENESIS

    return link(0, GENESIS, sample_events(n, seed))


def checkpoint_at(rows: list[Row], size: int, signer: Signer = TEST_SIGNER) -> Checkpoint:
    seq, _, chain = rows[size - 1]
    assert seq == size
    return signer.sign(size, chain, START_US + size * 1_000_000)
