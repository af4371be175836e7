"""Field ciphertext: round trips, and every kind of damage failing with its own error."""

from __future__ import annotations

import os
import pickle
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.dek import Dek
from crypto.envelope import OVERHEAD, FieldCipher, FieldContext, seal, sealed_dek_version
from crypto.errors import (
    KeyLimitReached,
    TamperedCiphertext,
    UnknownKeyVersion,
    UnsupportedFormat,
    WrongContext,
)
from tests.crypto.helpers import ANY, OneKey, field_ctx, make_ring

CUSTOMER = uuid.UUID("0195f0c4-0000-7000-8000-000000000001")
DEK = Dek(CUSTOMER, 1, bytes(range(32)))
CTX = FieldContext("customers", "phone", CUSTOMER, CUSTOMER)
_FP_SLICE = slice(5, 9)
SEALED = seal(DEK, CTX, b"13812345678")


def decrypt(dek: Dek, ctx: FieldContext, sealed: bytes) -> bytes:
    """Open under a known key, through the cipher and against a grant, as the product does."""
    return FieldCipher(OneKey(dek)).decrypt(ANY, ctx, sealed)


@given(st.text())
@settings(deadline=None)
def test_unicode_round_trip(text: str) -> None:
    ctx = FieldContext("customers", "address", uuid.uuid4(), CUSTOMER)
    assert decrypt(DEK, ctx, seal(DEK, ctx, text.encode())).decode() == text


@given(st.binary(max_size=4096), st.text(min_size=1, max_size=40))
@settings(deadline=None)
def test_bytes_round_trip_with_text_row_ids(data: bytes, row: str) -> None:
    ctx = FieldContext("settings", "value", row, CUSTOMER)
    sealed = seal(DEK, ctx, data)
    assert len(sealed) == len(data) + OVERHEAD
    assert decrypt(DEK, ctx, sealed) == data


def test_layout_is_self_describing() -> None:
    assert SEALED[0] == 1
    assert sealed_dek_version(SEALED) == 1
    assert SEALED[5:9] == CTX.fingerprint()


def test_nonces_are_fresh() -> None:
    assert seal(DEK, CTX, b"same") != seal(DEK, CTX, b"same")


@given(st.data())
@settings(deadline=None, max_examples=300)
def test_any_flipped_bit_fails_with_the_error_of_its_region(data: st.DataObject) -> None:
    bit = data.draw(st.integers(0, len(SEALED) * 8 - 1))
    damaged = bytearray(SEALED)
    damaged[bit // 8] ^= 1 << (bit % 8)
    byte = bit // 8
    expected: type[Exception] = {0: UnsupportedFormat}.get(byte, TamperedCiphertext)
    if 1 <= byte < 5:
        expected = UnknownKeyVersion  # names a DEK version the key handed in is not
    elif 5 <= byte < 9:
        expected = WrongContext  # the fingerprint now names another context
    with pytest.raises(expected) as caught:
        decrypt(DEK, CTX, bytes(damaged))
    if expected is TamperedCiphertext:
        assert type(caught.value) is TamperedCiphertext  # a body flip is tamper, not "moved"


@pytest.mark.parametrize("moved", [
    FieldContext("customers", "phone", uuid.uuid4(), CUSTOMER),  # another row
    FieldContext("customers", "email", CUSTOMER, CUSTOMER),  # another column
    FieldContext("contacts", "phone", CUSTOMER, CUSTOMER),  # another table
    FieldContext("customers", "phone", CUSTOMER, uuid.uuid4()),  # another customer, same key
])
def test_a_moved_value_fails_as_wrong_context(moved: FieldContext) -> None:
    with pytest.raises(WrongContext):
        decrypt(DEK, moved, SEALED)


def test_moved_to_another_customer_through_the_ring(tmp_path: Path) -> None:
    cipher = FieldCipher(make_ring(tmp_path))
    alice, bob = field_ctx(), field_ctx()
    sealed = cipher.encrypt(alice, b"secret")
    with pytest.raises(WrongContext):  # bob has no DEK yet: still "moved", not "no key"
        cipher.decrypt(ANY, bob._replace(column=alice.column), sealed)
    cipher.encrypt(bob, b"bob's own")
    with pytest.raises(WrongContext):  # bob has a DEK v1 now: it is the wrong one
        cipher.decrypt(ANY, FieldContext(alice.table, alice.column, alice.row_id, bob.customer_id), sealed)


def test_forged_fingerprint_still_fails_the_tag() -> None:
    moved = FieldContext("customers", "phone", uuid.uuid4(), CUSTOMER)
    forged = SEALED[:5] + moved.fingerprint() + SEALED[9:]
    with pytest.raises(TamperedCiphertext) as caught:
        decrypt(DEK, moved, forged)
    assert type(caught.value) is TamperedCiphertext


@pytest.mark.parametrize("cut", [0, 1, 5, 20, OVERHEAD - 1])
def test_truncated_values(cut: int) -> None:
    with pytest.raises((UnsupportedFormat, TamperedCiphertext)):
        decrypt(DEK, CTX, SEALED[:cut])
    if cut >= 1:
        with pytest.raises(TamperedCiphertext):
            sealed_dek_version(SEALED[:cut])


def test_a_value_for_another_dek_version() -> None:
    other = Dek(CUSTOMER, 2, bytes(32))
    with pytest.raises(UnknownKeyVersion, match="v1"):
        decrypt(other, CTX, SEALED)


def test_the_nonce_budget_is_enforced() -> None:
    dek = Dek(CUSTOMER, 1, bytes(32), limit=3)
    for _ in range(3):
        seal(dek, CTX, b"x")
    with pytest.raises(KeyLimitReached, match="rotate"):
        seal(dek, CTX, b"x")


def test_context_is_immutable_and_replace_rebuilds_the_aad() -> None:
    with pytest.raises(AttributeError):
        CTX.row_id = uuid.uuid4()  # type: ignore[misc]
    other = CTX._replace(row_id=uuid.uuid4())
    assert other.aad != CTX.aad
    assert other == FieldContext(CTX.table, CTX.column, other.row_id, CTX.customer_id)
    assert pickle.loads(pickle.dumps(CTX)) == CTX
    assert "aad" not in repr(CTX)


@given(st.dictionaries(st.sampled_from(["name", "phone", "email", "address"]), st.binary(max_size=64), min_size=1))
@settings(deadline=None, max_examples=50)
def test_a_row_sealed_at_once_opens_field_by_field(values: dict[str, bytes]) -> None:
    cipher = FieldCipher(OneKey(Dek(CUSTOMER, 1, bytes(range(32)))))
    row = uuid.uuid4()
    sealed = cipher.encrypt_row("customers", row, CUSTOMER, values)
    assert sealed.keys() == values.keys()
    for column, value in sealed.items():
        assert cipher.decrypt(ANY, FieldContext("customers", column, row, CUSTOMER), value) == values[column]
        assert value[_FP_SLICE] == FieldContext("customers", column, row, CUSTOMER).fingerprint()
        with pytest.raises(WrongContext):  # bound to its own column and row, as `encrypt` binds it
            cipher.decrypt(ANY, FieldContext("customers", column, uuid.uuid4(), CUSTOMER), value)
    nonces = [v[9:21] for v in sealed.values()]
    assert len(set(nonces)) == len(nonces)


def test_a_row_sealed_with_nonces_drawn_by_the_caller_uses_each_once_and_opens() -> None:
    cipher = FieldCipher(OneKey(Dek(CUSTOMER, 1, bytes(range(32)))))
    row, values = uuid.uuid4(), {"name": b"n", "phone": b"p", "email": b"e"}
    drawn = os.urandom(12 * len(values))
    sealed = cipher.encrypt_row("customers", row, CUSTOMER, values, nonces=drawn)
    assert [v[9:21] for v in sealed.values()] == [drawn[i:i + 12] for i in range(0, len(drawn), 12)]
    for column, value in sealed.items():
        assert cipher.decrypt(ANY, FieldContext("customers", column, row, CUSTOMER), value) == values[column]
    for wrong in (drawn[:-1], drawn + b"x", b""):
        with pytest.raises(ValueError, match="nonce bytes per value"):
            cipher.encrypt_row("customers", row, CUSTOMER, values, nonces=wrong)


def test_a_row_sealed_at_once_counts_against_the_nonce_budget() -> None:
    cipher = FieldCipher(OneKey(Dek(CUSTOMER, 1, bytes(32), limit=3)))
    with pytest.raises(KeyLimitReached):
        cipher.encrypt_row("customers", uuid.uuid4(), CUSTOMER, {"a": b"1", "b": b"2", "c": b"3", "d": b"4"})


def test_aad_encoding_is_unambiguous() -> None:
    row = uuid.uuid4()
    as_uuid = FieldContext("t", "c", row, CUSTOMER)
    as_text = FieldContext("t", "c", str(row), CUSTOMER)
    assert as_uuid.aad != as_text.aad
    assert FieldContext("ab", "c", row, CUSTOMER).aad != FieldContext("a", "bc", row, CUSTOMER).aad
    with pytest.raises(ValueError, match=r"1\.\.255"):
        FieldContext("", "c", row, CUSTOMER)

