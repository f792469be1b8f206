"""The fast path of ``ehr audit verify`` for large logs: the links are checked in parallel, one seq
range per process. Each link only needs the stored chain hash of the entry before it, so ranges are
independent: a range is sound when its seqs are contiguous, every entry links to the stored hash
before it, and every checkpoint inside it matches.

When every range is sound the log is intact and the report is built from the ranges. Anything else —
a gap, a broken link, a checkpoint that does not match or is not signed, a checkpoint beyond the end —
returns None, and the caller runs the sequential walk (``ehr.audit.verify``), which explains what it
finds. Processes are forked (cheap, nothing to import) and only from a single-threaded process.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import os
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ehr.audit.checkpoints import Checkpoint, signature_valid
from ehr.audit.hashing import GENESIS, LEAF_PREFIX, NODE_PREFIX
from ehr.audit.verify import Report, Row

#: below this many entries one process verifies faster than starting several
MIN_ENTRIES = 100_000
MAX_WORKERS = 8


@dataclass(frozen=True, slots=True)
class Span:
    """What one process found in its seq range: sound or not, and its last stored chain hash."""

    sound: bool
    count: int
    last_chain: bytes


def check_span(rows: Iterable[Row], first: int, previous: bytes, heads: dict[int, bytes]) -> Span:
    """Check the entries ``first``.. of ``rows`` against ``previous`` (the stored hash before them)."""
    leaf_base, node, sha256 = hashlib.sha256(LEAF_PREFIX), NODE_PREFIX, hashlib.sha256
    expected, count = first, 0
    for seq, entry, chain in rows:
        leaf = leaf_base.copy()
        leaf.update(entry)
        computed = sha256(node + previous + leaf.digest()).digest()
        if seq != expected or computed != chain or heads.get(seq, chain) != chain:
            return Span(False, count, previous)
        expected += 1
        count += 1
        previous = chain
    return Span(True, count, previous)


def verify_parallel(url: str, size: int, checkpoints: Iterable[Checkpoint], public: Ed25519PublicKey,
                    workers: int | None = None, min_entries: int = MIN_ENTRIES) -> Report | None:
    """The report of an intact log of ``size`` entries (seqs 1..size), or None when anything needs the
    sequential walk to explain it (or the log is too small to gain from processes). The caller must
    hold no open database connection (a forked child must not inherit one)."""
    cps = list(checkpoints)
    workers = min(workers or os.cpu_count() or 1, MAX_WORKERS)
    if size < min_entries or workers < 2 or threading.active_count() > 1 or "fork" not in \
            multiprocessing.get_all_start_methods():
        return None
    if any(cp.size > size or not signature_valid(cp, public) for cp in cps):
        return None
    heads = {cp.size: cp.head for cp in cps}
    if len(heads) != len({(cp.size, cp.head) for cp in cps}):
        return None
    bounds = [(size * k // workers + 1, size * (k + 1) // workers) for k in range(workers)]
    with multiprocessing.get_context("fork").Pool(workers) as pool:
        spans = pool.starmap(_check_range, [(url, low, high, heads) for low, high in bounds])
    if not all(s.sound for s in spans) or sum(s.count for s in spans) != size:
        return None
    return Report(entries=size, last_seq=size, head=spans[-1].last_chain, checkpoints=len(heads),
                  newest_checkpoint=max(heads, default=0))


def _check_range(url: str, low: int, high: int, heads: dict[int, bytes]) -> Span:
    from ehr.audit.log import stream_rows
    from ehr.store.sql.engine import make_engine

    engine = make_engine(url)
    try:
        rows: Iterator[Row] = stream_rows(engine, max(low - 1, 1), high)
        previous = GENESIS
        if low > 1:
            before = next(rows, None)
            if before is None or before[0] != low - 1:
                return Span(False, 0, GENESIS)
            previous = before[2]
        return check_span(rows, low, previous, {s: h for s, h in heads.items() if low <= s <= high})
    finally:
        engine.dispose()
