"""Every single-entry mutation of the log — a byte of an entry or of its chain hash changed, its seq
changed, an entry deleted, inserted, two swapped, the tail truncated — is detected, and the first
problem reported names the seq where it happened. A stretch rewritten with recomputed hashes is caught
by the signed checkpoint after it; a forged or altered checkpoint by its signature."""

from __future__ import annotations

from dataclasses import replace

from hypothesis import given, settings
from hypothesis import strategies as st

from ehr.audit.hashing import GENESIS, next_chain
from ehr.audit.log import entry_bytes
from ehr.audit.verify import Report, Row, entry_seq, verify

from .logs import TEST_SIGNER, build_log, checkpoint_at

N = 24
ROWS = build_log(N)
FULL = checkpoint_at(ROWS, N)
POSITIONS = st.integers(0, N - 1)


def check(rows: list[Row]) -> Report:
    return verify(rows, [FULL], TEST_SIGNER.public)


def first(report: Report) -> int:
    assert not report.intact, "the mutation went undetected"
    return report.problems[0].seq


def test_the_untouched_log_is_intact() -> None:
    report = check(ROWS)
    assert report.intact, report.lines()
    assert report.summary().startswith(f"audit log intact: {N} entries (seq 1..{N})")


@settings(max_examples=300)
@given(POSITIONS, st.data())
def test_a_changed_entry_byte_is_found(i: int, data: st.DataObject) -> None:
    seq, entry, chain = ROWS[i]
    at = data.draw(st.integers(0, len(entry) - 1))
    flip = data.draw(st.integers(1, 255))
    changed = entry[:at] + bytes([entry[at] ^ flip]) + entry[at + 1:]
    rows = [*ROWS[:i], (seq, changed, chain), *ROWS[i + 1:]]
    report = check(rows)
    claimed = entry_seq(changed)
    if claimed is not None and claimed != seq:
        # the change rewrote the entry's own seq number: to a verifier that streams the log this row is
        # indistinguishable from an entry moved here from seq ``claimed``, and it says so (seqs start at
        # 1: a claimed seq 0 is reported where the row stands)
        assert first(report) == max(1, min(claimed, seq))
        assert f"seq {seq} holds the entry of seq {claimed}" in str(report.problems[0])
    else:
        assert first(report) == seq


def test_an_entry_rewritten_to_claim_seq_0_is_reported_where_it_stands() -> None:
    """Found by the property above: seq 1's entry with its seq digit changed to 0."""
    seq, entry, chain = ROWS[0]
    changed = entry[:-2] + b"0}"
    assert entry.endswith(b'"seq":1}')
    assert entry_seq(changed) == 0
    report = check([(seq, changed, chain), *ROWS[1:]])
    assert first(report) == 1
    assert "seq 1 holds the entry of seq 0" in str(report.problems[0])


@given(POSITIONS, st.integers(0, 31), st.integers(1, 255))
def test_a_changed_chain_hash_is_found(i: int, at: int, flip: int) -> None:
    seq, entry, chain = ROWS[i]
    changed = chain[:at] + bytes([chain[at] ^ flip]) + chain[at + 1:]
    report = check([*ROWS[:i], (seq, entry, changed), *ROWS[i + 1:]])
    assert first(report) == seq
    if i < N - 1:
        assert report.problems[0].what.startswith("the chain hash stored at seq"), report.lines()


@given(POSITIONS)
def test_a_changed_entry_is_told_apart_from_a_changed_hash(i: int) -> None:
    seq, entry, chain = ROWS[i]
    report = check([*ROWS[:i], (seq, entry.replace(b'"R"', b'"D"').replace(b'"C"', b'"D"') + b" ", chain),
                    *ROWS[i + 1:]])
    assert first(report) == seq
    if i < N - 1:
        assert report.problems[0].what.startswith("entry modified"), report.lines()


@given(POSITIONS, st.integers(1, 1000))
def test_a_changed_seq_is_found(i: int, offset: int) -> None:
    seq, entry, chain = ROWS[i]
    rows = sorted([*ROWS[:i], (N + offset, entry, chain), *ROWS[i + 1:]])  # the database streams in seq order
    assert first(check(rows)) == seq


@given(POSITIONS)
def test_a_deleted_entry_is_found(i: int) -> None:
    report = check([*ROWS[:i], *ROWS[i + 1:]])
    assert first(report) == i + 1
    assert "deleted" in report.problems[0].what or "truncated" in report.problems[0].what


@given(st.integers(0, N), st.booleans(), st.data())
def test_an_inserted_entry_is_found(i: int, renumber: bool, data: st.DataObject) -> None:
    """A forged entry placed before position ``i``: with the seq of the entry it displaces (the
    others renumbered or not), and with a chain hash that is either random or correctly computed
    from its predecessor (which an attacker can do without any key)."""
    seq = i + 1
    forged = entry_bytes(seq, b'{"action":"R","resourceType":"AuditEvent"}')
    computed = data.draw(st.booleans())
    previous = ROWS[i - 1][2] if i else GENESIS
    chain = next_chain(previous, forged) if computed else data.draw(st.binary(min_size=32, max_size=32))
    after = [(s + 1, e, c) for s, e, c in ROWS[i:]] if renumber else ROWS[i:]
    rows = [*ROWS[:i], (seq, forged, chain), *after]
    if i == N and computed:
        return  # a well-formed entry appended after the last checkpoint: see test_appended_entries_need_a_checkpoint
    assert first(check(rows)) == seq


@given(st.integers(0, N - 2), st.data())
def test_two_swapped_entries_are_found(i: int, data: st.DataObject) -> None:
    j = data.draw(st.integers(i + 1, N - 1))
    rows = list(ROWS)
    (si, ei, ci), (sj, ej, cj) = rows[i], rows[j]
    rows[i], rows[j] = (si, ej, cj), (sj, ei, ci)  # contents swapped, the seq column in place
    assert first(check(rows)) == si


@given(st.integers(0, N - 2), st.data())
def test_two_swapped_rows_of_an_exported_file_are_found(i: int, data: st.DataObject) -> None:
    j = data.draw(st.integers(i + 1, N - 1))
    rows = list(ROWS)
    rows[i], rows[j] = rows[j], rows[i]
    assert first(check(rows)) == i + 1


@given(st.integers(1, N))
def test_a_truncated_tail_is_found_against_the_checkpoint(k: int) -> None:
    report = check(ROWS[:N - k])
    assert first(report) == N - k + 1
    assert "truncated" in report.problems[0].what


def test_appended_entries_need_a_checkpoint() -> None:
    """Beyond the newest checkpoint, a correctly chained entry cannot be told from a genuine one:
    the limit of any hash chain, which the periodic checkpoints bound."""
    forged = entry_bytes(N + 1, b'{"action":"R"}')
    assert check([*ROWS, (N + 1, forged, next_chain(ROWS[-1][2], forged))]).intact


@given(st.integers(1, N))
def test_a_rewritten_stretch_is_caught_by_the_next_checkpoint(i: int) -> None:
    """Someone changes entry i and recomputes every chain hash after it: every link holds, but the
    chain no longer matches the signed checkpoint, and the report bounds where."""
    checkpoints = [checkpoint_at(ROWS, size) for size in (8, 16, N)]
    rows = list(ROWS[:i - 1])
    chain = rows[-1][2] if rows else GENESIS
    for seq, entry, _ in ROWS[i - 1:]:
        if seq == i:
            entry = entry.replace(b'"TREAT"', b'"HOPER"')
        chain = next_chain(chain, entry)
        rows.append((seq, entry, chain))
    report = verify(rows, checkpoints, TEST_SIGNER.public)
    problem = report.problems[0]
    low = max(size for size in (0, 8, 16) if size < i) + 1
    assert problem.seq == low
    assert problem.seq <= i
    assert "rewritten" in problem.what


@given(st.sampled_from(["size", "head", "time", "signature"]))
def test_an_altered_checkpoint_is_refused(part: str) -> None:
    cp = FULL
    altered = {
        "size": replace(cp, size=cp.size - 1),
        "head": replace(cp, head=bytes(32)),
        "time": replace(cp, time=cp.time + 1),
        "signature": replace(cp, signature=bytes([cp.signature[0] ^ 1]) + cp.signature[1:]),
    }[part]
    report = verify(ROWS, [altered], TEST_SIGNER.public)
    assert not report.intact
    assert "invalid signature" in report.problems[0].what


def test_a_checkpoint_of_another_key_is_refused() -> None:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from ehr.audit.checkpoints import Signer

    other = Signer(Ed25519PrivateKey.from_private_bytes(bytes(32)))
    report = verify(ROWS, [checkpoint_at(ROWS, N, other)], TEST_SIGNER.public)
    assert "invalid signature" in report.problems[0].what
