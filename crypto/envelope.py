"""Field ciphertext: AES-256-GCM under the customer's data key, bound to where it is stored.

Sealed value, format 1 (docs/crypto.md "Field format"):

    offset  size  content
    0       1     format version (0x01)
    1       4     DEK version, big-endian
    5       4     context fingerprint: CRC-32 of the associated data (diagnostic only)
    9       12    random nonce
    21      n+16  AES-GCM ciphertext and tag

The associated data is the 9-byte header followed by `FieldContext.aad` (format version, table,
column, customer id, row id): every header byte is authenticated, and a value copied to
another row, column or customer fails to open. The fingerprint only lets a failure say
*which* thing happened (`WrongContext` rather than `TamperedCiphertext`); security rests on
the tag alone.

Plaintext leaves this module only through `FieldCipher.decrypt`, against a `Grant` that admits
the value's customer and field (crypto/grants.py); the key ring checks it before it hands out
the key. A lint that forbids `.decrypt(` outside `archive/gate/` and `crypto/` is the second line.
"""

from __future__ import annotations

import os
import struct
import uuid
import zlib
from typing import Any, NamedTuple

from cryptography.exceptions import InvalidTag

from crypto.dek import FIELD_FORMAT, Dek, DekSource
from crypto.errors import TamperedCiphertext, UnknownKeyVersion, UnsupportedFormat, WrongContext
from crypto.grants import Grant

NONCE_BYTES = 12
TAG_BYTES = 16
_FP, _NONCE, _BODY = 5, 9, 21  # offsets into a sealed value
OVERHEAD = _BODY + TAG_BYTES  # 37 bytes on top of the plaintext
_ROW_TEXT = b"\x01"  # a UUID row id is tagged 0x00

# (table, column) -> (encoded AAD prefix, "table.column"); few, never evicted
_prefixes: dict[tuple[str, str], tuple[bytes, str]] = {}


def _prefix(table: str, column: str) -> tuple[bytes, str]:
    encoded = [name.encode() for name in (table, column)]
    if not all(0 < len(name) < 256 for name in encoded):
        raise ValueError("table and column names must be 1..255 bytes")
    head = bytes((FIELD_FORMAT,)) + b"".join(len(name).to_bytes(1, "big") + name for name in encoded)
    _prefixes[(table, column)] = found = (head, f"{table}.{column}")
    return found


class _Where(NamedTuple):
    table: str
    column: str
    row_id: uuid.UUID | str
    customer_id: uuid.UUID
    field: str  # "table.column", as a Grant names fields
    aad: bytes


class FieldContext(_Where):
    """Where a value lives: table, column, row id, customer id — and the encoded associated
    data, built once at construction.

    Immutable and slotted like a frozen dataclass, but a tuple: building one costs half of
    what a frozen dataclass does (no `object.__setattr__` per field), and one is built for
    every value sealed or opened (bench/crypto.py). `row_id` is the row's UUID (a string is
    accepted for tables keyed otherwise); a document blob uses table "documents", column
    "content" and the document id. `field` is "table.column", the name a `Grant` admits.

    AAD = 0x01 ‖ len ‖ table ‖ len ‖ column ‖ customer id (16) ‖ 0x00 ‖ row UUID (16),
    or, for a text row id, … ‖ customer id (16) ‖ 0x01 ‖ row id (UTF-8, to the end).
    """

    __slots__ = ()

    def __new__(cls, table: str, column: str, row_id: uuid.UUID | str, customer_id: uuid.UUID) -> FieldContext:
        head, field = _prefixes.get((table, column)) or _prefix(table, column)
        if row_id.__class__ is uuid.UUID:  # fixed widths: one int, one to_bytes
            aad = head + ((customer_id.int << 136) | row_id.int).to_bytes(33, "big")
        else:
            aad = head + customer_id.bytes + _ROW_TEXT + str(row_id).encode()
        return tuple.__new__(cls, (table, column, row_id, customer_id, field, aad))

    def _replace(self, **changes: Any) -> FieldContext:
        """A copy with some fields changed, and its AAD rebuilt to match."""
        fields = {"table": self.table, "column": self.column, "row_id": self.row_id,
                  "customer_id": self.customer_id}
        return FieldContext(**{**fields, **changes})

    def __getnewargs__(self) -> tuple[str, str, uuid.UUID | str, uuid.UUID]:
        return (self.table, self.column, self.row_id, self.customer_id)

    def __repr__(self) -> str:
        return (f"FieldContext(table={self.table!r}, column={self.column!r}, row_id={self.row_id!r}, "
                f"customer_id={self.customer_id!r})")

    def fingerprint(self) -> bytes:
        return fingerprint(self.aad)


def fingerprint(aad: bytes) -> bytes:
    """4 bytes naming the context, for diagnosis; not a security check (the GCM tag is)."""
    return _crc32(aad).to_bytes(4, "big")


_crc32 = zlib.crc32
_version = struct.Struct(">I").unpack_from  # the DEK version at offset 1, without a slice


def seal(dek: Dek, ctx: FieldContext, plaintext: bytes, *, _nonce: bytes | None = None) -> bytes:
    """Encrypt one field value for `ctx` under `dek`. (`_nonce` is for the known-answer tests
    only: a nonce must never be chosen twice, so everything else lets it be drawn here.)"""
    if next(dek.seals) > dek.limit:  # the nonce budget (crypto.dek.NONCE_LIMIT)
        raise dek.over_limit()
    nonce = os.urandom(NONCE_BYTES) if _nonce is None else _nonce
    aad = ctx.aad
    head = dek.header + _crc32(aad).to_bytes(4, "big")
    return head + nonce + dek.aead.encrypt(nonce, plaintext, head + aad)


def sealed_dek_version(sealed: bytes) -> int:
    """The DEK version a sealed value needs; checks the format byte and the length."""
    if not sealed or sealed[0] != FIELD_FORMAT:
        raise UnsupportedFormat(f"not a sealed field value of format {FIELD_FORMAT}")
    if len(sealed) < OVERHEAD:
        raise TamperedCiphertext(f"sealed value too short ({len(sealed)} bytes)")
    version: int = _version(sealed, 1)[0]
    return version


def _open(dek: Dek, ctx: FieldContext, sealed: bytes) -> bytes:
    """Open a sealed value under a key already handed out against a grant (`FieldCipher`)."""
    if len(sealed) < OVERHEAD or sealed[:_FP] != dek.header:
        needed = sealed_dek_version(sealed)  # raises first for a malformed value
        raise UnknownKeyVersion(f"the value needs data key v{needed}, was given v{dek.version}")
    aad = ctx.aad
    try:
        return dek.aead.decrypt(sealed[_NONCE:_BODY], sealed[_BODY:], sealed[:_NONCE] + aad)
    except InvalidTag:
        raise _failure(sealed, aad) from None


def _failure(sealed: bytes, aad: bytes) -> TamperedCiphertext:
    if sealed[_FP:_NONCE] != fingerprint(aad):
        return WrongContext("the value was sealed for another table, column, row or customer")
    return TamperedCiphertext("the sealed value failed authentication")


class FieldCipher:
    """Seal and open field values with the keys of a `KeyRing` (or any `DekSource`). Sealing
    needs no grant; opening and resealing need one that admits the value's customer and field."""

    __slots__ = ("_for_decrypt", "_for_encrypt", "_keys")

    def __init__(self, keys: DekSource) -> None:
        self._keys = keys
        self._for_encrypt = keys.dek_for_encrypt  # bound once: every call below is hot
        self._for_decrypt = keys.dek_for_decrypt

    @property
    def keys(self) -> DekSource:
        return self._keys

    def encrypt(self, ctx: FieldContext, plaintext: bytes) -> bytes:
        """Seal a value under the customer's active data key (`seal`)."""
        return seal(self._for_encrypt(ctx.customer_id), ctx, plaintext)

    def decrypt(self, grant: Grant | None, ctx: FieldContext, sealed: bytes) -> bytes:
        """The plaintext of a sealed value, if `grant` admits `ctx.field` of `ctx.customer_id`
        (else `NotGranted`, and nothing is opened). The hot read path (bench/crypto.py)."""
        if sealed.__class__ is not bytes:
            sealed = bytes(sealed)  # a driver's memoryview or bytearray
        if len(sealed) < OVERHEAD or sealed[0] != FIELD_FORMAT:
            self._keys.check(grant, ctx.customer_id, ctx.field)  # refused before anything is said
            sealed_dek_version(sealed)  # raises the precise error
        try:  # the key ring checks the grant before it hands out the key
            dek = self._for_decrypt(ctx.customer_id, _version(sealed, 1)[0], grant, ctx.field)
        except UnknownKeyVersion:
            # A value moved to a customer without this key version: say it was moved.
            if sealed[_FP:_NONCE] != ctx.fingerprint():
                raise WrongContext("the value was sealed for another table, column, row or customer") from None
            raise
        return _open(dek, ctx, sealed)

    def reseal(self, grant: Grant | None, ctx: FieldContext, sealed: bytes) -> bytes:
        """The value under the customer's active DEK; unchanged if it already is (idempotent).
        `grant` (a system grant, for DEK rotation) must admit the field; the plaintext never
        leaves this method."""
        self._keys.check(grant, ctx.customer_id, ctx.field)
        new = self._keys.dek_for_encrypt(ctx.customer_id)
        version = sealed_dek_version(sealed)
        if version == new.version:
            return sealed
        old = self._keys.dek_for_decrypt(ctx.customer_id, version, grant, ctx.field)
        return seal(new, ctx, _open(old, ctx, sealed))

    def __repr__(self) -> str:
        return f"FieldCipher({self._keys!r})"
