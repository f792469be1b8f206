"""Verification of the audit chain: stream the entries in ``seq`` order, recompute every link and
compare it with the stored chain hash, and compare the chain with every signed checkpoint.

It reports WHERE (a seq) and WHAT for each problem found:

- a modified entry, or a modified chain hash (which of the two is told by the next link);
- deleted entries (a gap in ``seq``), entries inserted or reordered (a seq out of order, or an entry
  whose own ``seq`` — it is part of the hashed bytes — differs from the row's);
- a rewritten stretch (every link recomputed by someone without the signing key): the chain no
  longer matches a signed checkpoint, so the problem lies after the previous checkpoint;
- a truncated tail: the log ends before a signed checkpoint's size;
- a checkpoint whose signature does not verify.

Appending a well-formed entry after the last checkpoint cannot be told from a genuine entry by the
chain alone: that is what frequent checkpoints bound.

Only the chain hashes are computed on the fast path (two SHA-256 per entry, ``ehr.audit.hashing``);
entries are parsed only to explain a problem.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from ehr.audit.checkpoints import Checkpoint, signature_valid
from ehr.audit.hashing import GENESIS, LEAF_PREFIX, NODE_PREFIX, chain_hash, leaf_hash

Row = tuple[int, bytes, bytes]
_SEQ_KEY = b',"seq":'


@dataclass(frozen=True, slots=True)
class Problem:
    seq: int
    what: str

    def __str__(self) -> str:
        return f"seq {self.seq}: {self.what}"


@dataclass(slots=True)
class Report:
    entries: int = 0
    last_seq: int = 0
    head: bytes = GENESIS
    checkpoints: int = 0
    newest_checkpoint: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def intact(self) -> bool:
        return not self.problems

    def summary(self) -> str:
        if self.intact:
            signed = (f"{self.checkpoints} signed checkpoint(s) verified, newest at size {self.newest_checkpoint}"
                      if self.checkpoints else "no signed checkpoint yet")
            return (f"audit log intact: {self.entries} entries (seq 1..{self.last_seq}), head "
                    f"{self.head.hex()[:16]}, {signed}")
        first = min(self.problems, key=lambda p: p.seq)
        return f"audit log TAMPERED: {len(self.problems)} problem(s), first at seq {first.seq}"

    def lines(self) -> list[str]:
        return [*(str(p) for p in self.problems), self.summary()]


def entry_seq(entry: bytes) -> int | None:
    """The seq an entry (``{"event":...,"seq":n}``) names for itself; None when it has none."""
    at = entry.rfind(_SEQ_KEY)
    if at < 0 or not entry.endswith(b"}"):
        return None
    text = entry[at + len(_SEQ_KEY):-1]
    return int(text) if text.isdigit() else None


class _Walk:
    """The chain walk's state, and its slow paths (explaining what broke)."""

    def __init__(self, report: Report, heads: dict[int, Checkpoint]) -> None:
        self.report = report
        self.heads = heads
        self.expected = 1
        #: the recomputed chain of the previous row, when its stored one did not match
        self.recomputed: bytes | None = None
        #: index of the previous row's problem while it is unclear whether its entry or its hash changed
        self.pending: int | None = None
        #: rows whose broken link follows from a problem just reported (a gap, a moved entry)
        self.quiet = 0
        self.last_checkpoint = 0
        self.since_checkpoint = 0
        #: rewritten stretches (first seq, checkpoint size): reported unless a problem inside explains them
        self.stretches: list[tuple[int, int]] = []

    def step(self, seq: int, entry: bytes, chain: bytes, computed: bytes) -> bool:
        """The slow path of one row: a broken link, the row after one, or a checkpoint. Returns
        whether the next row needs it too."""
        if computed != chain:
            self.broken(seq, entry, chain, computed)
        elif self.recomputed is not None:
            self.linked()
        if self.quiet:
            self.quiet -= 1
        if seq in self.heads:
            self.checkpoint(seq, computed)
        return self.quiet > 0 or self.recomputed is not None

    def sequence(self, seq: int) -> None:
        if seq > self.expected:
            gap = f"seq {self.expected}..{seq - 1} are" if seq - 1 > self.expected else f"seq {self.expected} is"
            self.add(self.expected, f"entry missing ({gap} not in the log): entries were deleted")
        else:
            self.add(seq, f"seq {seq} appears again after seq {self.expected - 1}: an entry was inserted or the "
                          "log reordered")
        self.quiet = 2
        self.expected = max(self.expected, seq + 1)

    def linked(self) -> None:
        """The row links to the previous row's stored hash: so that hash was true, and the previous
        row's problem was its entry."""
        self.settle("entry modified: its content no longer matches its chain hash")
        self.recomputed = None

    def broken(self, seq: int, entry: bytes, chain: bytes, computed: bytes) -> None:
        """The row does not link to the previous row's stored hash."""
        if self.recomputed is not None and chain_hash(self.recomputed, leaf_hash(entry)) == chain:
            self.settle("the chain hash stored at seq {seq} was modified (the next entry links to the true one)")
            self.recomputed = None
            return
        self.pending = None
        self.recomputed = computed
        if self.quiet:
            return
        own = entry_seq(entry)
        if own is None:
            self.add(seq, "entry modified: it is no longer a log entry")
        elif own != seq:
            # the entry moved: entries were inserted from seq ``own`` on (own < seq), deleted, or reordered
            # (an edit of the entry's own seq number reads the same to a walk that streams the log)
            how = (f"entries were inserted from seq {own} on, or the log reordered" if own < seq
                   else "entries were deleted before it, or the log reordered")
            self.add(max(1, min(own, seq)), f"seq {seq} holds the entry of seq {own}: {how}")
            self.quiet = 2
        else:
            self.add(seq, "entry or chain hash modified: they no longer match")
            self.pending = len(self.report.problems) - 1

    def settle(self, text: str) -> None:
        if self.pending is not None:
            seq = self.report.problems[self.pending].seq
            self.report.problems[self.pending] = Problem(seq, text.format(seq=seq))
            self.pending = None

    def checkpoint(self, seq: int, chain: bytes) -> None:
        """Compare the true chain at ``seq`` with its signed checkpoint. A mismatch says more than the
        links only when none broke since the previous checkpoint: the stretch was rewritten whole."""
        if self.heads[seq].head != chain and not self.since_checkpoint:
            self.stretches.append((self.last_checkpoint + 1, seq))
        self.report.checkpoints += 1
        self.report.newest_checkpoint = seq
        self.last_checkpoint = seq
        self.since_checkpoint = 0

    def add(self, seq: int, what: str) -> None:
        self.report.problems.append(Problem(seq, what))
        self.since_checkpoint += 1

    def finish(self) -> None:
        """Report the rewritten stretches that no problem found before their end explains (an entry
        inserted or deleted earlier shifts every later one); order the problems by seq."""
        first = min((p.seq for p in self.report.problems), default=None)
        for start, size in self.stretches:
            if first is None or first > size:
                self.add(start, f"the chain no longer matches the signed checkpoint of size {size}: entries in "
                                f"seq {start}..{size} were rewritten")
        self.report.problems.sort(key=lambda p: p.seq)


def verify(rows: Iterable[Row], checkpoints: Iterable[Checkpoint], public: Ed25519PublicKey) -> Report:
    """Walk ``rows`` (seq, entry, chain) in the order given and check them against ``checkpoints``."""
    report = Report()
    heads = _trusted(checkpoints, public, report)
    walk = _Walk(report, heads)
    leaf_base, node, sha256 = hashlib.sha256(LEAF_PREFIX), NODE_PREFIX, hashlib.sha256
    previous, expected, count, unsettled = GENESIS, 1, 0, False
    for seq, entry, chain in rows:
        count += 1
        if seq == expected:
            expected += 1
        else:
            walk.expected = expected
            walk.sequence(seq)
            expected, unsettled = walk.expected, True
        leaf = leaf_base.copy()
        leaf.update(entry)
        computed = sha256(node + previous + leaf.digest()).digest()
        if computed != chain or unsettled or seq in heads:
            unsettled = walk.step(seq, entry, chain, computed)
        previous = chain
    report.entries, report.last_seq, report.head = count, expected - 1, previous
    _check_tail(report, heads)
    walk.finish()
    return report


def _trusted(checkpoints: Iterable[Checkpoint], public: Ed25519PublicKey, report: Report) -> dict[int, Checkpoint]:
    """The checkpoints whose signature verifies, by size; the others are reported."""
    heads: dict[int, Checkpoint] = {}
    for cp in checkpoints:
        if not signature_valid(cp, public):
            report.problems.append(Problem(cp.size, f"the checkpoint of size {cp.size} has an invalid signature: "
                                                    "it was forged or altered"))
        elif cp.size in heads and heads[cp.size].head != cp.head:
            report.problems.append(Problem(cp.size, f"two validly signed checkpoints of size {cp.size} disagree"))
        else:
            heads[cp.size] = cp
    return heads


def _check_tail(report: Report, heads: dict[int, Checkpoint]) -> None:
    beyond = [size for size in heads if size > report.last_seq]
    if beyond:
        size = max(beyond)
        report.problems.append(Problem(
            report.last_seq + 1, f"the log ends at seq {report.last_seq} but a signed checkpoint covers {size} "
                                 f"entries: entries {report.last_seq + 1}..{size} were removed (truncated)"))
