"""Streaming, segmented AEAD for document blobs (the shape of Tink's AES-GCM-HKDF streaming).

A blob is a 52-byte header and then segments; each segment is AES-256-GCM of a fixed number of
plaintext bytes (the last one may be shorter, even empty) plus a 16-byte tag:

    offset  size  header field
    0       1     format (0x81: blob format 1; field values start with 0x01)
    1       4     DEK version, big-endian
    5       4     plaintext bytes per segment, big-endian
    9       4     context fingerprint (CRC-32 of the context's AAD; diagnostic only)
    13      32    random salt: blob key = HKDF-SHA256(DEK, salt, "crypto/blob/v1" ‖ context AAD)
    45      7     random nonce prefix

Segment i is sealed with nonce = prefix ‖ i (4 bytes, big-endian) ‖ last flag (1 byte) and the
whole header as associated data. A fresh key per blob means nonces never repeat across blobs;
the index and flag in the nonce mean a segment opens only at its own position, and only the
real last segment opens as last — so truncation, reordering and extension all fail.

Memory stays at two segment buffers however large the blob. Decryption yields plaintext one
authenticated segment at a time; the end of the blob is proven only when the iterator ends,
so a consumer streaming to a client must abort (not complete) the response on an error.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from crypto.dek import Dek, DekSource
from crypto.envelope import FieldContext, fingerprint
from crypto.errors import (
    BlobExtended,
    BlobTruncated,
    SegmentOrderError,
    TamperedCiphertext,
    UnknownKeyVersion,
    UnsupportedFormat,
    WrongContext,
)
from crypto.grants import Grant

BLOB_FORMAT = 0x81
HEADER_BYTES = 52
TAG_BYTES = 16
DEFAULT_SEGMENT = 256 * 1024
MIN_SEGMENT, MAX_SEGMENT = 64, 8 * 1024 * 1024  # a header cannot make us allocate more
MAX_SEGMENTS = 2**32
REORDER_PROBE = 64  # positions tried on each side when naming a misplaced segment
_MORE, _LAST = b"\x00", b"\x01"


@runtime_checkable
class Readable(Protocol):
    def readinto(self, buffer: memoryview, /) -> int | None: ...


class Writable(Protocol):
    def write(self, data: bytes, /) -> object: ...


@dataclass(frozen=True, slots=True)
class BlobSealed:
    """What sealing produced; the archive stores `sha256` and `plaintext_size` with the blob."""

    sha256: bytes
    plaintext_size: int
    ciphertext_size: int
    dek_version: int

    @property
    def sha256_hex(self) -> str:
        return self.sha256.hex()


@dataclass(frozen=True, slots=True)
class BlobHeader:
    raw: bytes
    dek_version: int
    segment_size: int

    @classmethod
    def parse(cls, raw: bytes) -> BlobHeader:
        if len(raw) < HEADER_BYTES:
            raise BlobTruncated(f"blob header cut off after {len(raw)} bytes")
        if raw[0] != BLOB_FORMAT:
            raise UnsupportedFormat(f"not a blob of format 0x{BLOB_FORMAT:02x}")
        segment = int.from_bytes(raw[5:9], "big")
        if not MIN_SEGMENT <= segment <= MAX_SEGMENT:
            raise UnsupportedFormat(f"segment size {segment} outside {MIN_SEGMENT}..{MAX_SEGMENT}")
        return cls(bytes(raw), int.from_bytes(raw[1:5], "big"), segment)

    @classmethod
    def read(cls, source: Readable) -> BlobHeader:
        buffer = bytearray(HEADER_BYTES)
        return cls.parse(bytes(buffer[: _fill(source, memoryview(buffer))]))

    def key_and_prefix(self, dek: Dek, ctx: FieldContext) -> tuple[AESGCM, bytes]:
        return AESGCM(dek.blob_key(self.raw[13:45], ctx.aad)), self.raw[45:52]


def _fill(source: Readable, view: memoryview) -> int:
    """Read until `view` is full or the source ends; the number of bytes read."""
    got = 0
    while got < len(view):
        n = source.readinto(view[got:])
        if not n:
            break
        got += n
    return got


class ChunkStream:
    """An iterable of byte chunks seen through `readinto` (what `encrypt`/`decrypt` read);
    `close` closes the iterator (and the file or HTTP body behind it) when it can."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = iter(chunks)
        self._pending = memoryview(b"")

    def readinto(self, buffer: memoryview, /) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = memoryview(chunk).cast("B")
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n

    def close(self) -> None:
        close = getattr(self._chunks, "close", None)
        if close is not None:
            close()


def _source(source: Readable | Iterable[bytes]) -> Readable:
    return source if isinstance(source, Readable) else ChunkStream(source)


def encrypt(
    dek: Dek, ctx: FieldContext, source: Readable | Iterable[bytes], sink: Writable, *,
    segment_size: int = DEFAULT_SEGMENT, _salt_prefix: bytes | None = None,
) -> BlobSealed:
    """Seal a stream (anything with `readinto`, or an iterable of chunks) into `sink`.
    (`_salt_prefix`, the header's 39 random bytes, is for the known-answer tests only.)"""
    if not MIN_SEGMENT <= segment_size <= MAX_SEGMENT:
        raise ValueError(f"segment size must be {MIN_SEGMENT}..{MAX_SEGMENT}")
    reader = _source(source)
    salt_prefix = os.urandom(39) if _salt_prefix is None else _salt_prefix
    header = BlobHeader(
        b"".join((bytes((BLOB_FORMAT,)), dek.header[1:5], segment_size.to_bytes(4, "big"), fingerprint(ctx.aad),
                  salt_prefix)), dek.version, segment_size)
    aead, prefix = header.key_and_prefix(dek, ctx)
    aad, digest = header.raw, hashlib.sha256()
    sink.write(aad)
    # Two buffers: the next segment is read before this one is sealed, to know if it is the last.
    views = memoryview(bytearray(segment_size)), memoryview(bytearray(segment_size))
    n, index, size = _fill(reader, views[0]), 0, 0
    while True:
        more = _fill(reader, views[1 - index % 2]) if n == segment_size else 0
        if index >= MAX_SEGMENTS:
            raise ValueError("blob too large for 2^32 segments: use a larger segment size")
        plain = views[index % 2][:n]
        digest.update(plain)
        sink.write(aead.encrypt(prefix + index.to_bytes(4, "big") + (_MORE if more else _LAST), plain, aad))
        size += n
        if not more:
            break
        n, index = more, index + 1
    segments = index + 1
    return BlobSealed(digest.digest(), size, HEADER_BYTES + size + segments * TAG_BYTES, dek.version)


def _open(
    dek: Dek, ctx: FieldContext, source: Readable, *, header: BlobHeader | None = None,
    plaintext_size: int | None = None, sha256: bytes | None = None,
) -> BlobReader:
    """Open a sealed blob as an iterator of plaintext segments, under a key already handed out
    against a grant (`BlobCipher.decrypt`).

    Pass the `plaintext_size` recorded at sealing to tell a blob cut inside a segment
    (BlobTruncated) from one whose last segment was altered (TamperedCiphertext); pass
    `sha256` to check the plaintext against the recorded digest at the end.
    """
    header = header or BlobHeader.read(source)
    if header.dek_version != dek.version:
        raise UnknownKeyVersion(f"the blob needs data key v{header.dek_version}, was given v{dek.version}")
    if header.raw[9:13] != fingerprint(ctx.aad):
        raise WrongContext("the blob was sealed for another document or customer")
    return BlobReader(dek, ctx, header, source, plaintext_size, sha256)


class BlobReader:
    """Yields authenticated plaintext segments; `sha256` and `plaintext_size` once exhausted."""

    def __init__(self, dek: Dek, ctx: FieldContext, header: BlobHeader, source: Readable,
                 plaintext_size: int | None, sha256: bytes | None) -> None:
        self._aead, self._prefix = header.key_and_prefix(dek, ctx)
        self._header, self._source, self._expected_digest = header, source, sha256
        self._expected = None if plaintext_size is None else _ciphertext_size(plaintext_size, header.segment_size)
        self.sha256: bytes | None = None
        self.plaintext_size = 0
        self._started = False

    def __iter__(self) -> Iterator[bytes]:
        if self._started:
            raise ValueError("a BlobReader reads its stream once")
        self._started = True
        return self._segments()

    def _segments(self) -> Iterator[bytes]:
        full = self._header.segment_size + TAG_BYTES
        views = memoryview(bytearray(full)), memoryview(bytearray(full))
        digest, consumed = hashlib.sha256(), HEADER_BYTES
        n, index = _fill(self._source, views[0]), 0
        if n == 0:
            raise BlobTruncated("the blob has a header but no segments")
        while True:
            # Always look ahead, even after a short segment: bytes after it mean an extension.
            more = _fill(self._source, views[1 - index % 2])
            consumed += n
            self._check_length(consumed, index, final=not more)
            plain = self._open(views[index % 2][:n], index, final=not more)
            digest.update(plain)
            self.plaintext_size += len(plain)
            yield plain
            if not more:
                break
            n, index = more, index + 1
        self._finish(digest.digest())

    def _check_length(self, consumed: int, index: int, *, final: bool) -> None:
        if self._expected is None:
            return
        if consumed > self._expected:
            raise BlobExtended(f"the blob runs past its recorded size at segment {index}")
        if final and consumed < self._expected:
            raise BlobTruncated(f"the blob ends {self._expected - consumed} bytes short, in segment {index}")

    def _open(self, sealed: memoryview, index: int, *, final: bool) -> bytes:
        if len(sealed) < TAG_BYTES:
            raise BlobTruncated(f"segment {index} is cut off before its tag")
        try:
            return self._aead.decrypt(self._nonce(index, final), sealed, self._header.raw)
        except InvalidTag:
            raise self._diagnose(sealed, index, final) from None

    def _nonce(self, index: int, final: bool) -> bytes:
        return self._prefix + index.to_bytes(4, "big") + (_LAST if final else _MORE)

    def _opens(self, sealed: memoryview, index: int, final: bool) -> bool:
        try:
            self._aead.decrypt(self._nonce(index, final), sealed, self._header.raw)
        except InvalidTag:
            return False
        return True

    def _diagnose(self, sealed: memoryview, index: int, final: bool) -> TamperedCiphertext | BlobTruncated:
        """The segment failed: find out why, spending decryptions only on this error path."""
        if self._opens(sealed, index, not final):
            if final:
                return BlobTruncated(f"the blob ends after segment {index}, which was not sealed as the last")
            return BlobExtended(f"data follows segment {index}, which was sealed as the last")
        for other in range(max(0, index - REORDER_PROBE), index + REORDER_PROBE + 1):
            if other != index and (self._opens(sealed, other, final) or self._opens(sealed, other, not final)):
                return SegmentOrderError(index, other)
        return TamperedCiphertext(f"blob segment {index} failed authentication")

    def _finish(self, digest: bytes) -> None:
        if self._expected_digest is not None and digest != self._expected_digest:
            raise TamperedCiphertext("the plaintext does not match the recorded SHA-256")
        self.sha256 = digest

    def __repr__(self) -> str:
        return f"BlobReader(dek_version={self._header.dek_version}, segment_size={self._header.segment_size})"


def _ciphertext_size(plaintext_size: int, segment_size: int) -> int:
    segments = max(1, -(-plaintext_size // segment_size))  # a full last segment is still the last
    return HEADER_BYTES + plaintext_size + segments * TAG_BYTES


class BlobCipher:
    """Seal and open blobs with the keys of a `KeyRing` (or any `DekSource`). Sealing needs no
    grant; opening and resealing need one that admits the blob's field (`ctx.field`, e.g.
    `documents.content`) of its customer."""

    def __init__(self, keys: DekSource, *, segment_size: int = DEFAULT_SEGMENT) -> None:
        self._keys, self._segment = keys, segment_size

    def encrypt(self, ctx: FieldContext, source: Readable | Iterable[bytes], sink: Writable) -> BlobSealed:
        return encrypt(self._keys.dek_for_encrypt(ctx.customer_id), ctx, source, sink, segment_size=self._segment)

    def decrypt(self, grant: Grant | None, ctx: FieldContext, source: Readable, *, plaintext_size: int | None = None,
                sha256: bytes | None = None) -> BlobReader:
        """The blob's plaintext segments (`_open`), if `grant` admits `ctx.field` of
        `ctx.customer_id`; else `NotGranted` before a byte of the source is read."""
        self._keys.check(grant, ctx.customer_id, ctx.field)
        header = BlobHeader.read(source)
        try:
            dek = self._keys.dek_for_decrypt(ctx.customer_id, header.dek_version, grant, ctx.field)
        except UnknownKeyVersion:
            if header.raw[9:13] != fingerprint(ctx.aad):
                raise WrongContext("the blob was sealed for another document or customer") from None
            raise
        return _open(dek, ctx, source, header=header, plaintext_size=plaintext_size, sha256=sha256)

    def reseal(self, grant: Grant | None, ctx: FieldContext, source: Readable, sink: Writable, *,
               plaintext_size: int | None = None, sha256: bytes | None = None) -> BlobSealed | None:
        """Re-encrypt under the customer's active DEK, segment by segment in memory; None
        (and nothing written) when the blob already is under it. `grant` (a system grant, for
        DEK rotation) must admit the blob's field; the plaintext never leaves this method."""
        self._keys.check(grant, ctx.customer_id, ctx.field)
        new = self._keys.dek_for_encrypt(ctx.customer_id)
        header = BlobHeader.read(source)
        if header.dek_version == new.version:
            return None
        old = self._keys.dek_for_decrypt(ctx.customer_id, header.dek_version, grant, ctx.field)
        plain = _open(old, ctx, source, header=header, plaintext_size=plaintext_size, sha256=sha256)
        return encrypt(new, ctx, ChunkStream(plain), sink, segment_size=self._segment)

    def __repr__(self) -> str:
        return f"BlobCipher({self._keys!r}, segment_size={self._segment})"
