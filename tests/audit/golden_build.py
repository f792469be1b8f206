"""Writes the golden tampered logs in ``tests/golden/audit/``: one small exported log (12 entries,
checkpoints signed with the public test key at sizes 4, 8 and 12), a copy per kind of tampering, and
each one's expected ``ehr audit verify`` output.

Run ``python -m tests.audit.golden_build`` from the repository root after a deliberate change to the
entry format, and review the diff of the expected outputs.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from ehr.audit.checkpoints import Checkpoint, export_lines, raw_public
from ehr.audit.export import write_rows
from ehr.audit.hashing import next_chain
from ehr.audit.log import entry_bytes
from ehr.audit.verify import Row, verify

from .logs import TEST_SIGNER, build_log, checkpoint_at

GOLDEN = Path(__file__).resolve().parent.parent / "golden" / "audit"
N = 12
SIZES = (4, 8, 12)


def _modify_entry(rows: list[Row]) -> list[Row]:
    seq, entry, chain = rows[4]
    return [*rows[:4], (seq, entry.replace(b'"TREAT"', b'"HMARKT"'), chain), *rows[5:]]


def _modify_chain(rows: list[Row]) -> list[Row]:
    seq, entry, _ = rows[6]
    return [*rows[:6], (seq, entry, bytes(32)), *rows[7:]]


def _rewrite(rows: list[Row]) -> list[Row]:
    """Entry 6 changed and every chain hash after it recomputed (no key needed for that)."""
    out = list(rows[:5])
    chain = out[-1][2]
    for seq, entry, _ in rows[5:]:
        if seq == 6:
            entry = entry.replace(b'"TREAT"', b'"HMARKT"')
        chain = next_chain(chain, entry)
        out.append((seq, entry, chain))
    return out


def _insert(rows: list[Row]) -> list[Row]:
    forged = entry_bytes(3, b'{"action":"R","recorded":"2026-01-01T00:00:02.000000Z","resourceType":"AuditEvent"}')
    return [*rows[:2], (3, forged, next_chain(rows[1][2], forged)), *[(s + 1, e, c) for s, e, c in rows[2:]]]


def _swap(rows: list[Row]) -> list[Row]:
    out = list(rows)
    (s2, e2, c2), (s9, e9, c9) = out[2], out[9]
    out[2], out[9] = (s2, e9, c9), (s9, e2, c2)
    return out


CASES: dict[str, Callable[[list[Row]], list[Row]]] = {
    "intact": list,
    "modified-entry": _modify_entry,
    "modified-chain": _modify_chain,
    "deleted": lambda rows: [*rows[:7], *rows[8:]],
    "inserted": _insert,
    "reordered": _swap,
    "truncated": lambda rows: rows[:9],
    "rewritten": _rewrite,
}


def checkpoints(rows: list[Row]) -> list[Checkpoint]:
    return [checkpoint_at(rows, size) for size in SIZES]


def forged_checkpoints(rows: list[Row]) -> list[Checkpoint]:
    """The last checkpoint claims a longer log: its size changed, its signature kept."""
    good = checkpoints(rows)
    return [*good[:-1], replace(good[-1], size=20)]


def expected(rows: list[Row], cps: list[Checkpoint]) -> str:
    return "\n".join(verify(rows, cps, TEST_SIGNER.public).lines()) + "\n"


def main() -> None:
    GOLDEN.mkdir(parents=True, exist_ok=True)
    rows = build_log(N)
    cps = checkpoints(rows)
    (GOLDEN / "signing.pub").write_text(raw_public(TEST_SIGNER.public).hex() + "\n")
    (GOLDEN / "checkpoints.jsonl").write_bytes(export_lines(cps))
    for name, mutate in CASES.items():
        tampered = mutate(rows)
        write_rows(tampered, GOLDEN / f"{name}.jsonl")
        (GOLDEN / f"{name}.expected").write_text(expected(tampered, cps))
    (GOLDEN / "forged-checkpoints.jsonl").write_bytes(export_lines(forged_checkpoints(rows)))
    (GOLDEN / "forged-checkpoints.expected").write_text(expected(rows, forged_checkpoints(rows)))


if __name__ == "__main__":
    main()
