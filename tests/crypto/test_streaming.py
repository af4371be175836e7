"""Document blobs: streaming round trips, and truncation, reordering, extension and bit flips
each failing with its own error."""

from __future__ import annotations

import hashlib
import io
import uuid

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from crypto.dek import Dek
from crypto.envelope import FieldContext
from crypto.errors import (
    BlobExtended,
    BlobTruncated,
    SegmentOrderError,
    TamperedCiphertext,
    UnknownKeyVersion,
    UnsupportedFormat,
    WrongContext,
)
from crypto.streaming import HEADER_BYTES, TAG_BYTES, BlobCipher, BlobHeader, BlobReader, encrypt
from tests.crypto.helpers import ANY, OneKey

SEG = 64
FULL = SEG + TAG_BYTES
CUSTOMER = uuid.uuid4()
DEK = Dek(CUSTOMER, 3, bytes(range(32)))
CTX = FieldContext("documents", "content", uuid.uuid4(), CUSTOMER)
DATA = bytes(range(256)) * 2 + b"tail"  # 516 bytes: 8 full segments and a short last one
SEGMENTS = 9


def sealed_blob(data: bytes = DATA, ctx: FieldContext = CTX, segment: int = SEG) -> bytes:
    sink = io.BytesIO()
    encrypt(DEK, ctx, io.BytesIO(data), sink, segment_size=segment)
    return sink.getvalue()


BLOB = sealed_blob()


def decrypt(dek: Dek, ctx: FieldContext, source: io.BytesIO, *, plaintext_size: int | None = None,
            sha256: bytes | None = None) -> BlobReader:
    """Open under a known key, through the cipher and against a grant, as the product does."""
    return BlobCipher(OneKey(dek)).decrypt(ANY, ctx, source, plaintext_size=plaintext_size, sha256=sha256)


def opened(blob: bytes, *, size: int | None = None, ctx: FieldContext = CTX) -> bytes:
    return b"".join(decrypt(DEK, ctx, io.BytesIO(blob), plaintext_size=size))


def segment(i: int, blob: bytes = BLOB) -> bytes:
    start = HEADER_BYTES + i * FULL
    return blob[start:start + FULL]


@given(st.binary(max_size=2000), st.integers(64, 300), st.lists(st.integers(1, 500), max_size=8))
@settings(deadline=None, max_examples=80)
def test_round_trip_from_a_stream_or_chunks(data: bytes, seg: int, cuts: list[int]) -> None:
    sink = io.BytesIO()
    chunks, rest = [], data
    for cut in cuts:  # an iterator of uneven chunks must give the same plaintext
        chunks.append(rest[:cut])
        rest = rest[cut:]
    chunks.append(rest)
    result = encrypt(DEK, CTX, iter(chunks), sink, segment_size=seg)
    assert result.sha256 == hashlib.sha256(data).digest()
    assert result.plaintext_size == len(data) and result.ciphertext_size == len(sink.getvalue())
    reader = decrypt(DEK, CTX, io.BytesIO(sink.getvalue()), plaintext_size=len(data), sha256=result.sha256)
    assert b"".join(reader) == data
    assert reader.sha256 == result.sha256 and reader.plaintext_size == len(data)


@given(st.text(max_size=500))
@settings(deadline=None, max_examples=40)
def test_unicode_round_trip(text: str) -> None:
    assert opened(sealed_blob(text.encode())).decode() == text


def test_segments_are_what_the_format_says() -> None:
    header = BlobHeader.parse(BLOB[:HEADER_BYTES])
    assert (header.dek_version, header.segment_size) == (3, SEG)
    assert len(BLOB) == HEADER_BYTES + len(DATA) + SEGMENTS * TAG_BYTES
    assert opened(BLOB, size=len(DATA)) == DATA


def test_an_exact_multiple_of_the_segment_size_has_no_empty_tail() -> None:
    blob = sealed_blob(DATA[:SEG * 2])
    assert len(blob) == HEADER_BYTES + 2 * FULL
    assert opened(blob, size=SEG * 2) == DATA[:SEG * 2]
    assert opened(sealed_blob(b"")) == b""


@given(st.integers(0, SEGMENTS - 1), st.integers(0, FULL * 8 - 1))
@settings(deadline=None, max_examples=150)
def test_a_flipped_bit_in_any_segment_is_tamper(index: int, bit: int) -> None:
    start = HEADER_BYTES + index * FULL
    if start + bit // 8 >= len(BLOB):
        bit %= (len(BLOB) - start) * 8
    damaged = bytearray(BLOB)
    damaged[start + bit // 8] ^= 1 << (bit % 8)
    for size in (None, len(DATA)):
        with pytest.raises(TamperedCiphertext, match=f"segment {index} failed") as caught:
            opened(bytes(damaged), size=size)
        assert type(caught.value) is TamperedCiphertext


HEADER_REGIONS: list[tuple[range, tuple[type[Exception], ...]]] = [
    (range(0, 1), (UnsupportedFormat,)),  # format byte
    (range(1, 5), (UnknownKeyVersion,)),  # DEK version: not the key handed in
    (range(5, 9), (UnsupportedFormat, TamperedCiphertext)),  # segment size: out of bounds, or misaligned
    (range(9, 13), (WrongContext,)),  # context fingerprint
    (range(13, HEADER_BYTES), (TamperedCiphertext,)),  # salt and nonce prefix: another key
]


@given(st.integers(0, HEADER_BYTES * 8 - 1))
@settings(deadline=None, max_examples=100)
def test_a_flipped_bit_in_the_header_fails_by_region(bit: int) -> None:
    damaged = bytearray(BLOB)
    damaged[bit // 8] ^= 1 << (bit % 8)
    expected = next(errors for region, errors in HEADER_REGIONS if bit // 8 in region)
    with pytest.raises(expected):
        opened(bytes(damaged))


@pytest.mark.parametrize("keep", range(1, SEGMENTS))
def test_truncated_at_a_segment_boundary(keep: int) -> None:
    cut = BLOB[:HEADER_BYTES + keep * FULL]
    with pytest.raises(BlobTruncated, match=f"after segment {keep - 1}"):
        opened(cut)  # without the size: the last segment read was not sealed as last
    with pytest.raises(BlobTruncated, match="short"):
        opened(cut, size=len(DATA))


@pytest.mark.parametrize("cut", [HEADER_BYTES + 1, HEADER_BYTES + 15, HEADER_BYTES + 40, len(BLOB) - 1,
                                 HEADER_BYTES + 3 * FULL + 30])
def test_truncated_inside_a_segment(cut: int) -> None:
    with pytest.raises(BlobTruncated):
        opened(BLOB[:cut], size=len(DATA))


def test_truncated_inside_a_segment_without_the_size_is_still_refused() -> None:
    # Without the recorded size a cut segment cannot be told from an altered one.
    with pytest.raises(TamperedCiphertext):
        opened(BLOB[:HEADER_BYTES + 3 * FULL + 30])
    with pytest.raises(BlobTruncated):
        opened(BLOB[:HEADER_BYTES + 10])  # shorter than a tag: certainly cut


@pytest.mark.parametrize("cut", [0, 1, HEADER_BYTES - 1, HEADER_BYTES])
def test_truncated_header_or_no_segments(cut: int) -> None:
    with pytest.raises((BlobTruncated, UnsupportedFormat)):
        opened(BLOB[:cut])
    if cut:
        with pytest.raises(BlobTruncated):
            opened(BLOB[:cut])


@pytest.mark.parametrize(("i", "j"), [(0, 1), (2, 5), (0, SEGMENTS - 2), (3, 4)])
def test_swapped_segments(i: int, j: int) -> None:
    parts = [segment(k) for k in range(SEGMENTS)]
    parts[i], parts[j] = parts[j], parts[i]
    swapped = BLOB[:HEADER_BYTES] + b"".join(parts)
    for size in (None, len(DATA)):
        with pytest.raises(SegmentOrderError) as caught:
            opened(swapped, size=size)
        assert (caught.value.position, caught.value.sealed_at) == (i, j)


def test_a_duplicated_segment() -> None:
    parts = [segment(k) for k in range(SEGMENTS)]
    with pytest.raises(SegmentOrderError):
        opened(BLOB[:HEADER_BYTES] + b"".join([parts[0], parts[0], *parts[2:]]))


def test_extended_after_a_full_last_segment() -> None:
    blob = sealed_blob(DATA[:SEG * 2])
    for extra in (b"x", segment(0, blob), b"\x00" * FULL):
        with pytest.raises(BlobExtended):
            opened(blob + extra)
        with pytest.raises(BlobExtended):
            opened(blob + extra, size=SEG * 2)


def test_extended_after_a_short_last_segment() -> None:
    with pytest.raises(BlobExtended):
        opened(BLOB + b"more", size=len(DATA))
    with pytest.raises(TamperedCiphertext):  # without the size the tail just breaks the last tag
        opened(BLOB + b"more")


def test_a_segment_from_another_blob_is_tamper() -> None:
    other = sealed_blob(DATA)
    mixed = BLOB[:HEADER_BYTES + FULL] + segment(1, other) + BLOB[HEADER_BYTES + 2 * FULL:]
    with pytest.raises(TamperedCiphertext, match="segment 1 failed"):
        opened(mixed)


def test_a_blob_opened_for_another_document_or_customer() -> None:
    for other in (CTX._replace(row_id=uuid.uuid4()), CTX._replace(customer_id=uuid.uuid4())):
        with pytest.raises(WrongContext):
            opened(BLOB, ctx=other)


def test_recorded_digest_is_checked() -> None:
    reader = decrypt(DEK, CTX, io.BytesIO(BLOB), sha256=hashlib.sha256(b"other").digest())
    with pytest.raises(TamperedCiphertext, match="SHA-256"):
        b"".join(reader)


def test_wrong_dek_version_is_named() -> None:
    with pytest.raises(UnknownKeyVersion, match="v3"):
        decrypt(Dek(CUSTOMER, 4, bytes(32)), CTX, io.BytesIO(BLOB))


def test_segment_size_bounds() -> None:
    with pytest.raises(ValueError, match="segment size"):
        encrypt(DEK, CTX, io.BytesIO(b""), io.BytesIO(), segment_size=10)
    huge = bytearray(BLOB[:HEADER_BYTES])
    huge[5:9] = (1 << 30).to_bytes(4, "big")
    with pytest.raises(UnsupportedFormat, match="segment size"):
        BlobHeader.parse(bytes(huge))
