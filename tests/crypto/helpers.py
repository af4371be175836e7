"""Small builders for the crypto tests (plain functions: the suite runs with --noconftest)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from crypto.envelope import FieldContext
from crypto.keyring import KeyRing
from crypto.keys import LocalKeyProvider, generate_local_keys
from crypto.keystore import InMemoryKeyStore
from crypto.streaming import BlobCipher, BlobSealed

SMALL_SEGMENT = 64  # the minimum: many segments from a few hundred bytes


def make_ring(tmp_path: Path, *, store: InMemoryKeyStore | None = None, cache_ttl: float = 60.0,
              cache_size: int = 10_000) -> KeyRing:
    keys = tmp_path / "keys"
    generate_local_keys(keys)
    return KeyRing(LocalKeyProvider(keys), store or InMemoryKeyStore(), cache_ttl=cache_ttl, cache_size=cache_size)


def field_ctx(customer: uuid.UUID | None = None, *, table: str = "customers", column: str = "phone",
              row: uuid.UUID | str | None = None) -> FieldContext:
    customer = customer or uuid.uuid4()
    return FieldContext(table, column, row if row is not None else customer, customer)


def blob_ctx(customer: uuid.UUID | None = None, document: uuid.UUID | None = None) -> FieldContext:
    return FieldContext("documents", "content", document or uuid.uuid4(), customer or uuid.uuid4())


def seal_blob(cipher: BlobCipher, ctx: FieldContext, data: bytes) -> tuple[bytes, BlobSealed]:
    sink = io.BytesIO()
    sealed = cipher.encrypt(ctx, io.BytesIO(data), sink)
    return sink.getvalue(), sealed


def open_blob(cipher: BlobCipher, ctx: FieldContext, blob: bytes, *, size: int | None = None) -> bytes:
    return b"".join(cipher.decrypt(ctx, io.BytesIO(blob), plaintext_size=size))

