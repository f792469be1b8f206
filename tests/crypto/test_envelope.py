"""The envelope (ehr.crypto.envelope): round trip, and every tamper, truncation, swap of context or key
fails with the one opaque DecryptionError."""

from __future__ import annotations

from dataclasses import replace

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from hypothesis import given, settings
from hypothesis import strategies as st

from ehr.crypto.envelope import FORMAT_VERSION, Binding, DecryptionError, key_id_of, open_envelope, seal

KEY = AESGCM(bytes(range(32)))
OTHER_KEY = AESGCM(bytes(range(1, 33)))
texts = st.text(min_size=1, max_size=20)
bindings = st.builds(Binding, texts, st.sampled_from(["Patient", "Observation"]), texts, st.integers(1, 10**6))
key_ids = st.text(alphabet="0123456789abcdef", min_size=1, max_size=40)


@given(st.binary(max_size=2000), bindings, key_ids)
def test_round_trip(plaintext: bytes, binding: Binding, key_id: str) -> None:
    envelope = seal(KEY, key_id, plaintext, binding)
    assert envelope[0] == FORMAT_VERSION
    assert key_id_of(envelope) == key_id
    assert open_envelope(KEY, envelope, binding) == plaintext


@settings(max_examples=50)
@given(st.binary(min_size=1, max_size=200), bindings, key_ids, st.data())
def test_any_flipped_bit_fails(plaintext: bytes, binding: Binding, key_id: str, data: st.DataObject) -> None:
    envelope = bytearray(seal(KEY, key_id, plaintext, binding))
    index = data.draw(st.integers(0, len(envelope) - 1))
    bit = data.draw(st.integers(0, 7))
    envelope[index] ^= 1 << bit
    with pytest.raises(DecryptionError) as caught:
        open_envelope(KEY, bytes(envelope), binding)
    assert str(caught.value) == "the stored payload could not be decrypted"


@settings(max_examples=50)
@given(st.binary(max_size=200), bindings, key_ids, st.data())
def test_truncation_fails(plaintext: bytes, binding: Binding, key_id: str, data: st.DataObject) -> None:
    envelope = seal(KEY, key_id, plaintext, binding)
    cut = data.draw(st.integers(0, len(envelope) - 1))
    with pytest.raises(DecryptionError):
        open_envelope(KEY, envelope[:cut], binding)


@given(st.binary(max_size=200), bindings, bindings, key_ids)
def test_a_row_moved_to_another_place_fails(plaintext: bytes, sealed_for: Binding, read_as: Binding,
                                            key_id: str) -> None:
    envelope = seal(KEY, key_id, plaintext, sealed_for)
    if read_as == sealed_for:
        assert open_envelope(KEY, envelope, read_as) == plaintext
    else:
        with pytest.raises(DecryptionError):
            open_envelope(KEY, envelope, read_as)


SEALED_FOR = Binding("hospital-a", "Patient", "p1", 3)


@pytest.mark.parametrize("read_as", [replace(SEALED_FOR, tenant="hospital-b"),
                                     replace(SEALED_FOR, resource_type="Observation"),
                                     replace(SEALED_FOR, id="p2"), replace(SEALED_FOR, version=4)])
def test_each_bound_field_matters(read_as: Binding) -> None:
    envelope = seal(KEY, "k1", b"{}", SEALED_FOR)
    with pytest.raises(DecryptionError):
        open_envelope(KEY, envelope, read_as)


def test_edited_key_id_or_other_key_fails() -> None:
    binding = Binding("t", "Patient", "p", 1)
    envelope = seal(KEY, "k1", b"secret", binding)
    relabelled = envelope[:2] + b"k2" + envelope[4:]
    assert key_id_of(relabelled) == "k2"
    for candidate, key in ((relabelled, KEY), (envelope, OTHER_KEY)):
        with pytest.raises(DecryptionError):
            open_envelope(key, candidate, binding)


def test_unknown_format_version_fails() -> None:
    envelope = seal(KEY, "k1", b"x", Binding("t", "Patient", "p", 1))
    with pytest.raises(DecryptionError):
        key_id_of(bytes([2]) + envelope[1:])


def test_nonces_are_fresh_and_plaintext_does_not_show() -> None:
    binding = Binding("t", "Patient", "p", 1)
    first, second = (seal(KEY, "k1", b"Okafor Okafor Okafor", binding) for _ in range(2))
    assert first != second
    assert b"Okafor" not in first
