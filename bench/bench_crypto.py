"""In-process cost of encryption at rest: microseconds per seal and per open of one resource payload
(the envelope alone, and through the cipher with the data key cached, as a warm server runs), the cost
of a cache miss (unwrap under the local KEK), and per blind-index row and per resource of the blind
index rewrite — on the official R4 Patient and Observation examples.

Usage: ``PYTHONPATH=. python bench/bench_crypto.py [--repeat N]``
"""

from __future__ import annotations

import argparse
import gzip
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import orjson

from ehr.crypto.blind import BlindIndexKey
from ehr.crypto.boundary import PayloadContext, WrappedKey
from ehr.crypto.cache import KeyCache
from ehr.crypto.cipher import EnvelopeCipher
from ehr.crypto.envelope import Binding, open_envelope, seal
from ehr.crypto.kek import LocalKekSource
from ehr.crypto.keyring import DataKeyRing
from ehr.search.blind import Blinder, is_blind
from ehr.search.extract import extract_index_rows
from ehr.search.paths import compile_all
from ehr.search.registry import Registry

EXAMPLES = Path(__file__).resolve().parent.parent / "tests" / "golden" / "r4-examples.ndjson.gz"


class MemoryKeys:
    """A KeyTable in a dict (the benchmark measures the crypto, not the database)."""

    def __init__(self) -> None:
        self.rows: dict[str, WrappedKey] = {}

    def by_owner(self, tenant: str, owner: str) -> WrappedKey | None:
        return next((k for k in self.rows.values() if (k.tenant, k.owner) == (tenant, owner)), None)

    def by_id(self, key_id: str) -> WrappedKey | None:
        return self.rows.get(key_id)

    def insert(self, key: WrappedKey) -> None:
        if self.by_owner(key.tenant, key.owner or "") is None:
            self.rows[key.key_id] = key

    def durable(self, key_id: str) -> bool:
        return True


def per_call_us(fn: Callable[[], object], repeat: int) -> float:
    fn()
    start = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - start) / repeat * 1e6


def examples(types: set[str]) -> list[dict[str, Any]]:
    with gzip.open(EXAMPLES, "rb") as handle:
        return [r for r in map(orjson.loads, handle) if r.get("resourceType") in types]


def report(label: str, fn: Callable[[], object], repeat: int) -> None:
    print(f"{label:<26}{per_call_us(fn, repeat):8.2f} µs")


def envelope_figures(payload: bytes, n: int) -> None:
    with tempfile.TemporaryDirectory() as folder:
        cipher = EnvelopeCipher(DataKeyRing(LocalKekSource(Path(folder) / "kek"), KeyCache()))
        keys = MemoryKeys()
        context = PayloadContext("hospital-a", "Patient", "p1", 1, patient="p1")
        sealed = cipher.seal(payload, context, keys)
        key = cipher.ring.for_write("hospital-a", "p1", keys)
        binding = Binding("hospital-a", "Patient", "p1", 1)
        uncached = EnvelopeCipher(DataKeyRing(cipher.ring.source, KeyCache(ttl_s=0)))
        report("envelope seal", lambda: seal(key.aead, key.key_id, payload, binding), n)
        report("envelope open", lambda: open_envelope(key.aead, sealed, binding), n)
        report("cipher seal (key cached)", lambda: cipher.seal(payload, context, keys), n)
        report("cipher open (key cached)", lambda: cipher.open(sealed, context, keys), n)
        report("cipher open (cache miss)", lambda: uncached.open(sealed, context, keys), n // 10)


def blind_figures(resources: list[dict[str, Any]], n: int) -> None:
    registry = Registry.load()
    compile_all(registry)
    blinder = Blinder(BlindIndexKey(bytes(range(32))))
    patients = [("Patient", extract_index_rows(r, registry)) for r in resources if r["resourceType"] == "Patient"]
    digests = sum(1 for t, rows in patients for row in blinder.rows(t, rows).tokens if is_blind(t, row.param))

    def blind_all() -> None:
        for t, rows in patients:
            blinder.rows(t, rows)

    per_round = per_call_us(blind_all, max(1, n // 100))
    print(f"blind index: {len(patients)} Patient examples, {digests} digest rows: "
          f"{per_round / len(patients):7.2f} µs per Patient, {per_round / digests:5.2f} µs per row")
    report("HMAC digest alone", lambda: blinder.key.digest("Patient|family|prefix", "smith"), n)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=20_000)
    n = parser.parse_args().repeat
    resources = examples({"Patient", "Observation"})
    sizes = sorted(len(orjson.dumps(r)) for r in resources)
    payload = orjson.dumps(resources[0])
    print(f"payload {len(payload)} bytes (examples: median {sizes[len(sizes) // 2]} bytes)")
    envelope_figures(payload, n)
    blind_figures(resources, n)


if __name__ == "__main__":
    main()
