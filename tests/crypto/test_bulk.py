"""crypto/_bulk.c, the bulk-import crypto in C, equals the Python reference it replaces on the
import path — byte for byte, on random inputs — and refuses malformed arguments."""

from __future__ import annotations

import hmac
import os
import uuid
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto import _bulk
from crypto.blind_index import BlindIndex, IndexKind
from crypto.dek import FIELD_KEY_INFO, Dek
from crypto.envelope import FieldCipher, FieldContext, _prefix, seal_new_rows
from crypto.errors import TamperedCiphertext, WrongContext
from crypto.keyring import wrap_aad
from crypto.keys import LocalKeyProvider, generate_local_keys
from crypto.keystore import DekState, WrappedDek
from crypto.sha256mac import KeyedHash
from tests.crypto.helpers import ANY, AUTHORITY, make_ring

COLUMNS = ("name", "phone", "email", "address", "id_number", "credit_rating")
HEADER_V1 = b"\x01\x00\x00\x00\x01"
values = st.none() | st.binary(max_size=300)
rows = st.lists(st.tuples(*[values] * len(COLUMNS)), min_size=1, max_size=8)


class _Keys:
    """A `DekSource` of fixed data keys, by customer."""

    def __init__(self, deks: dict[uuid.UUID, Dek]) -> None:
        self.deks = deks

    def dek_for_encrypt(self, customer_id: uuid.UUID) -> Dek:
        return self.deks[customer_id]

    def dek_for_decrypt(self, customer_id: uuid.UUID, dek_version: int, grant: object, field: str | None = None) -> Dek:
        assert dek_version == 1
        self.check(grant, customer_id, field)
        return self.deks[customer_id]

    def check(self, grant: object, customer_id: uuid.UUID, field: str | None) -> None:
        AUTHORITY.check(grant, customer_id, field)  # type: ignore[arg-type]


@given(key=st.binary(max_size=200), messages=st.lists(st.binary(max_size=300), max_size=20),
       prefix=st.text(alphabet="0123456789abcdef", max_size=6), take=st.integers(1, 32))
def test_mac_hex_is_truncated_hmac_sha256_in_hex(key: bytes, messages: list[bytes], prefix: str, take: int) -> None:
    expected = [prefix + hmac.digest(key, m, "sha256")[:take].hex() for m in messages]
    assert _bulk.mac_hex(key, messages, prefix, take) == expected
    assert KeyedHash(key).hex_many(messages, prefix, take) == expected


@given(texts=st.lists(st.text(max_size=40), max_size=20))
@settings(deadline=None)
def test_a_batch_of_blind_indexes_equals_them_one_by_one(texts: list[str]) -> None:
    pinned = BlindIndex({1: bytes(32), 2: bytes(range(32))}).pinned()
    for kind in (IndexKind.PHONE, IndexKind.NAME, IndexKind.ID_NUMBER, IndexKind.EMAIL):
        assert pinned.hex_candidates_many(kind, texts) == [pinned.hex_candidates(kind, t) for t in texts]


@given(texts=st.lists(st.text(alphabet="0123456789ABCDEFGHJ", min_size=1, max_size=20), max_size=20))
def test_a_batch_with_something_to_index_in_every_value_equals_them_one_by_one(texts: list[str]) -> None:
    pinned = BlindIndex({1: bytes(32), 2: bytes(range(32))}).pinned()
    for kind in (IndexKind.NAME, IndexKind.ID_NUMBER):
        assert pinned.hex_candidates_many(kind, texts) == [pinned.hex_candidates(kind, t) for t in texts]
    digits = [t for t in texts if t.isdigit()]
    assert pinned.hex_candidates_many(IndexKind.PHONE, digits) == [pinned.hex_candidates(IndexKind.PHONE, t)
                                                                    for t in digits]


def test_a_batch_of_fingerprints_equals_them_one_by_one() -> None:
    pinned = BlindIndex({3: os.urandom(32)}).pinned()
    texts = ["a\x1fb", " 周\x1f1 ", "x" * 5000]
    assert pinned.hex_many(IndexKind.RECORD, texts) == [pinned.compute(IndexKind.RECORD, t).hex() for t in texts]


@given(rows=rows)
@settings(deadline=None, max_examples=60)
def test_seal_rows_equals_encrypt_row_under_the_same_key_and_nonces(rows: list[tuple[bytes | None, ...]]) -> None:
    ids = [uuid.uuid4() for _ in rows]
    keys = os.urandom(32 * len(rows))
    nonces = os.urandom(12 * sum(v is not None for row in rows for v in row))
    sealed = _bulk.seal_rows(keys, FIELD_KEY_INFO, HEADER_V1, b"".join(((c.int << 136) | c.int).to_bytes(33, "big")
                                                                        for c in ids),
                             tuple(_prefix("customers", c)[0] for c in COLUMNS), rows, nonces)
    at = 0
    for n, (customer, row, out) in enumerate(zip(ids, rows, sealed, strict=True)):
        present = {c: v for c, v in zip(COLUMNS, row, strict=True) if v is not None}
        cipher = FieldCipher(_Keys({customer: Dek(customer, 1, keys[32 * n:32 * n + 32])}))
        drawn = nonces[at:at + 12 * len(present)]
        at += 12 * len(present)
        expected = cipher.encrypt_row("customers", customer, customer, present, nonces=drawn)
        assert out == [expected.get(c) for c in COLUMNS]


def test_new_rows_open_through_the_field_cipher_each_bound_to_its_place() -> None:
    ids = [uuid.uuid4() for _ in range(3)]
    rows: list[tuple[bytes | None, ...]] = [(b"n0", None, b"e0", None, None, None),
                                           (b"n1", b"p1", None, b"a1", b"i1", b"AA"), (b"n2",) + (None,) * 5]
    keys = os.urandom(96)
    sealed = seal_new_rows("customers", COLUMNS, keys, ids, rows)
    cipher = FieldCipher(_Keys({c: Dek(c, 1, keys[32 * n:32 * n + 32]) for n, c in enumerate(ids)}))
    nonces = set()
    for customer, row, out in zip(ids, rows, sealed, strict=True):
        for column, value, blob in zip(COLUMNS, row, out, strict=True):
            assert (blob is None) == (value is None)
            if blob is None:
                continue
            nonces.add(blob[9:21])
            assert cipher.decrypt(ANY, FieldContext("customers", column, customer, customer), blob) == value
            other = ids[(ids.index(customer) + 1) % len(ids)]
            with pytest.raises(WrongContext):  # moved to another customer's row
                cipher.decrypt(ANY, FieldContext("customers", column, other, other), blob)
    assert len(nonces) == 8  # a fresh nonce for every value


def test_the_ring_wraps_the_keys_it_sealed_with(tmp_path: Path) -> None:
    ring = make_ring(tmp_path)
    ids = [uuid.uuid4(), uuid.uuid4()]
    wrapped, sealed = ring.seal_with_new_deks("customers", ("name", "phone"), ids, [(b"a", "1"), ("b", None)])
    for customer, (blob, kek_version) in zip(ids, wrapped, strict=True):
        ring.store.insert(WrappedDek(customer, 1, blob, kek_version, DekState.ACTIVE))
    cipher = FieldCipher(ring)
    assert cipher.decrypt(ANY, FieldContext("customers", "name", ids[0], ids[0]), sealed[0][0] or b"") == b"a"
    assert cipher.decrypt(ANY, FieldContext("customers", "phone", ids[0], ids[0]), sealed[0][1] or b"") == b"1"
    assert cipher.decrypt(ANY, FieldContext("customers", "name", ids[1], ids[1]), sealed[1][0] or b"") == b"b"
    assert sealed[1][1] is None


@given(rows=rows)
@settings(deadline=None, max_examples=20)
def test_text_is_sealed_as_its_utf8(rows: list[tuple[bytes | None, ...]]) -> None:
    texts = [tuple(None if v is None else v.decode("utf-8", "replace") for v in row) for row in rows]
    as_bytes = [tuple(None if v is None else v.encode() for v in row) for row in texts]
    args = (os.urandom(32 * len(rows)), FIELD_KEY_INFO, HEADER_V1, os.urandom(33 * len(rows)),
            tuple(_prefix("customers", c)[0] for c in COLUMNS))
    nonces = os.urandom(12 * sum(v is not None for row in rows for v in row))
    assert _bulk.seal_rows(*args, texts, nonces) == _bulk.seal_rows(*args, as_bytes, nonces)  # type: ignore[arg-type]
    with pytest.raises(UnicodeEncodeError):  # a lone surrogate has no UTF-8, as with str.encode()
        _bulk.seal_rows(os.urandom(32), FIELD_KEY_INFO, HEADER_V1, os.urandom(33), args[4][:1], [("\ud800",)],
                        os.urandom(12))


def test_a_batch_of_wrapped_keys_is_what_wrap_makes(tmp_path: Path) -> None:
    generate_local_keys(tmp_path)
    provider = LocalKeyProvider(tmp_path)
    ids = [uuid.uuid4() for _ in range(5)]
    deks, aads = [os.urandom(32) for _ in ids], [wrap_aad(c, 1) for c in ids]
    version, blobs = provider.wrap_batch(deks, aads)
    assert version == provider.active_version()
    assert [provider.unwrap(version, blob, aad) for blob, aad in zip(blobs, aads, strict=True)] == deks
    assert len({blob[1:13] for blob in blobs}) == len(blobs)  # a fresh nonce each
    single = provider.wrap(deks[0], aads[0]).blob
    assert len(single) == len(blobs[0])
    assert single[:1] == blobs[0][:1]
    with pytest.raises(TamperedCiphertext, match="failed authentication"):
        provider.unwrap(version, blobs[0], aads[1])  # bound to its own customer


def test_gcm_many_is_aes_gcm() -> None:
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    key, nonces = os.urandom(32), os.urandom(36)
    plaintexts, aads = [b"", b"a" * 100, os.urandom(7)], [b"x", b"", b"z" * 70]
    out = _bulk.gcm_many(key, b"\x07", plaintexts, aads, nonces)
    for n, (sealed, plain, aad) in enumerate(zip(out, plaintexts, aads, strict=True)):
        nonce = nonces[12 * n:12 * n + 12]
        assert sealed == b"\x07" + nonce + AESGCM(key).encrypt(nonce, plain, aad)
    for bad in ((b"k" * 31, b"", [b"a"], [b"b"], b"n" * 12), (key, b"", [b"a"], [], b"n" * 12),
                (key, b"", [b"a"], [b"b"], b"n" * 11), (key, b"p" * 65, [b"a"], [b"b"], b"n" * 12)):
        with pytest.raises(ValueError, match="32-byte key"):
            _bulk.gcm_many(*bad)
    with pytest.raises(TypeError):
        _bulk.gcm_many(key, b"", ["a"], [b"b"], b"n" * 12)  # type: ignore[list-item]


@pytest.mark.parametrize(("args", "error"), [
    ((b"k" * 31, b"i", HEADER_V1, b"t" * 33, (b"p",), [(b"v",)], b"n" * 12), ValueError),  # short key
    ((b"k" * 32, b"i", HEADER_V1, b"t" * 32, (b"p",), [(b"v",)], b"n" * 12), ValueError),  # short tail
    ((b"k" * 32, b"i", b"\x01", b"t" * 33, (b"p",), [(b"v",)], b"n" * 12), ValueError),  # short header
    ((b"k" * 32, b"i", HEADER_V1, b"t" * 33, (b"p",), [(b"v",)], b"n" * 11), ValueError),  # too few nonces
    ((b"k" * 32, b"i", HEADER_V1, b"t" * 33, (b"p",), [(b"v",)], b"n" * 24), ValueError),  # nonces left over
    ((b"k" * 32, b"i", HEADER_V1, b"t" * 33, (b"p",), [(b"v", b"w")], b"n" * 24), ValueError),  # wider row
    ((b"k" * 32, b"i", HEADER_V1, b"t" * 33, (b"p",), [[b"v"]], b"n" * 12), ValueError),  # row not a tuple
    ((b"k" * 32, b"i", HEADER_V1, b"t" * 33, (b"p",), [(1,)], b"n" * 12), TypeError),  # neither bytes nor text
    ((b"k" * 32, b"i", HEADER_V1, b"t" * 33, ("p",), [(b"v",)], b"n" * 12), ValueError),  # text prefix
    ((b"k" * 32, b"i", HEADER_V1, b"t" * 33, (b"p" * 1000,), [(b"v",)], b"n" * 12), ValueError),  # long prefix
    ((b"k" * 32, b"i" * 257, HEADER_V1, b"t" * 33, (b"p",), [(b"v",)], b"n" * 12), ValueError),  # long info
    # Read without the GIL: a mutable buffer could change meanwhile (nonces reused), so refused.
    ((b"k" * 32, b"i", HEADER_V1, b"t" * 33, (b"p",), [(b"v",)], bytearray(12)), TypeError),
    ((bytearray(32), b"i", HEADER_V1, b"t" * 33, (b"p",), [(b"v",)], b"n" * 12), TypeError),
])
def test_seal_rows_refuses_malformed_arguments(args: tuple[object, ...], error: type[Exception]) -> None:
    with pytest.raises(error):
        _bulk.seal_rows(*args)  # type: ignore[arg-type]


def test_mac_hex_refuses_malformed_arguments() -> None:
    for take in (0, 33):
        with pytest.raises(ValueError, match="take"):
            _bulk.mac_hex(b"k", [b"m"], "", take)
    with pytest.raises(TypeError):
        _bulk.mac_hex(b"k", ["m"], "", 16)  # type: ignore[list-item]
    with pytest.raises(ValueError, match="ASCII"):
        _bulk.mac_hex(b"k", [b"m"], "é", 16)


def test_seal_new_rows_checks_keys_against_rows() -> None:
    with pytest.raises(ValueError, match="one 32-byte data key"):
        seal_new_rows("customers", ("name",), os.urandom(32), [uuid.uuid4(), uuid.uuid4()], [(b"a",), (b"b",)])


def test_sealed_rows_are_invisible_to_the_collector_until_complete() -> None:
    """A finalizer walking gc.get_objects() during seal_rows (its allocations run collections)
    must not meet its half-filled output: that was a list with empty slots, and a crash."""
    import gc

    n, seen = 3000, []

    class Walker:
        def __init__(self) -> None:
            self.me = self  # a cycle: only a collection frees it

        def __del__(self) -> None:
            seen.extend(o for o in gc.get_objects() if type(o) is list and len(o) == n and type(o[0]) is list)

    threshold = gc.get_threshold()
    gc.set_threshold(50)
    try:
        for _ in range(10):
            Walker()
        out = _bulk.seal_rows(os.urandom(32 * n), FIELD_KEY_INFO, HEADER_V1, os.urandom(33 * n), (b"p",),
                              [(b"v",) for _ in range(n)], os.urandom(12 * n))
    finally:
        gc.set_threshold(*threshold)
    assert not seen
    assert len(out) == n
    assert gc.is_tracked(out)
    assert gc.is_tracked(out[0])  # tracked again once complete


# -- one field at a time: FieldKey (FieldCipher.encrypt / decrypt) ---------------------------

@given(key=st.binary(min_size=32, max_size=32), header=st.binary(min_size=5, max_size=5),
       aad=st.binary(max_size=200), plaintext=st.binary(max_size=2000), nonce=st.binary(min_size=12, max_size=12))
@settings(deadline=None, max_examples=300)
def test_a_field_key_seals_as_aesgcm_does_and_opens_what_it_sealed(key: bytes, header: bytes, aad: bytes,
                                                                    plaintext: bytes, nonce: bytes) -> None:
    import zlib

    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    head = header + zlib.crc32(aad).to_bytes(4, "big")
    expected = head + nonce + AESGCM(key).encrypt(nonce, plaintext, head + aad)
    field_key = _bulk.FieldKey(key)
    assert field_key.seal(header, aad, plaintext, nonce) == expected
    assert field_key.seal(header, aad, plaintext, nonce) == expected  # the prepared context is reusable
    assert field_key.open(expected, aad) == plaintext
    assert field_key.open(expected, aad + b"x") is None  # another context
    for at in (0, 5, 9, 21, len(expected) - 1):  # header, CRC, nonce, body, tag
        tampered = bytearray(expected)
        tampered[at] ^= 1
        assert field_key.open(bytes(tampered), aad) is None
    assert _bulk.FieldKey(bytes(32) if key != bytes(32) else b"\x01" * 32).open(expected, aad) is None


def test_a_field_key_refuses_malformed_arguments() -> None:
    import pickle

    key = _bulk.FieldKey(os.urandom(32))
    for bad in (b"short", "x" * 32, bytearray(32)):
        with pytest.raises((TypeError, ValueError)):
            _bulk.FieldKey(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="5-byte header"):
        key.seal(b"\x01", b"aad", b"pt", bytes(12))
    with pytest.raises(ValueError, match="12-byte nonce"):
        key.seal(HEADER_V1, b"aad", b"pt", bytes(11))
    with pytest.raises(TypeError):
        key.seal(HEADER_V1, b"aad", bytearray(b"pt"), bytes(12))  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        key.seal(HEADER_V1, b"aad", b"pt")  # type: ignore[call-arg]
    with pytest.raises(ValueError, match="too short"):
        key.open(bytes(36), b"aad")  # shorter than header, CRC, nonce and tag
    with pytest.raises(TypeError):
        key.open(memoryview(bytes(40)), b"aad")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="keyword"):
        _bulk.FieldKey(key=bytes(32))  # type: ignore[call-arg]
    with pytest.raises(TypeError):
        pickle.dumps(key)  # a key never travels


def test_field_cipher_values_open_with_the_python_reference_and_back(tmp_path: Path) -> None:
    """What FieldCipher seals through FieldKey opens with the pure `decrypt` (AESGCM), and the
    other way round: the formats are one."""
    from crypto.envelope import _open as decrypt
    from crypto.envelope import seal

    ring = make_ring(tmp_path)
    cipher = FieldCipher(ring)
    customer = uuid.uuid4()
    ctx = FieldContext("customers", "phone", customer, customer)
    dek = ring.dek_for_encrypt(customer)
    assert decrypt(dek, ctx, cipher.encrypt(ctx, b"13812345678")) == b"13812345678"
    assert cipher.decrypt(ANY, ctx, seal(dek, ctx, b"13812345678")) == b"13812345678"
    assert cipher.decrypt(ANY, ctx, bytearray(cipher.encrypt(ctx, b"x"))) == b"x"  # type: ignore[arg-type]
    assert cipher.decrypt(ANY, ctx, cipher.encrypt(ctx, memoryview(b"mv"))) == b"mv"  # type: ignore[arg-type]
    with pytest.raises(TypeError):
        cipher.encrypt(ctx, 13812345678)  # type: ignore[arg-type]  # not turned into that many zero bytes
