"""Field ciphertext: round trips, and every kind of damage failing with its own error."""

from __future__ import annotations

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


def test_a_value_read_from_the_database_as_a_buffer_opens(tmp_path: Path) -> None:
    cipher = FieldCipher(make_ring(tmp_path))
    ctx = field_ctx()
    sealed = cipher.encrypt(ctx, b"13812345678")
    for stored in (bytearray(sealed), memoryview(sealed)):
        assert cipher.decrypt(ANY, ctx, stored) == b"13812345678"  # type: ignore[arg-type]


def test_aad_encoding_is_unambiguous() -> None:
    row = uuid.uuid4()
    as_uuid = FieldContext("t", "c", row, CUSTOMER)
    as_text = FieldContext("t", "c", str(row), CUSTOMER)
    assert as_uuid.aad != as_text.aad
    assert FieldContext("ab", "c", row, CUSTOMER).aad != FieldContext("a", "bc", row, CUSTOMER).aad
    with pytest.raises(ValueError, match=r"1\.\.255"):
        FieldContext("", "c", row, CUSTOMER)

