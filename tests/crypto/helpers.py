"""Small builders for the crypto tests (plain functions: the suite runs with --noconftest)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

from crypto.dek import Dek
from crypto.envelope import FieldContext
from crypto.errors import UnknownKeyVersion
from crypto.grants import GrantAuthority, GrantKind
from crypto.keyring import KeyRing
from crypto.keys import LocalKeyProvider, generate_local_keys
from crypto.keystore import InMemoryKeyStore
from crypto.streaming import BlobCipher, BlobSealed

SMALL_SEGMENT = 64  # the minimum: many segments from a few hundred bytes

# The tests' own authority (tests are not product code): every ring they build trusts it, and
# ANY is a system grant, admitting every field of every customer.
AUTHORITY = GrantAuthority()
ANY = AUTHORITY.mint(GrantKind.SYSTEM, customer_ids=None, fields=None, reason="crypto tests")


def trusted(ring: KeyRing) -> KeyRing:
    ring.trust(AUTHORITY)
    return ring


def make_ring(tmp_path: Path, *, store: InMemoryKeyStore | None = None, cache_ttl: float = 60.0,
              cache_size: int = 10_000) -> KeyRing:
    keys = tmp_path / "keys"
    generate_local_keys(keys)
    return trusted(KeyRing(LocalKeyProvider(keys), store or InMemoryKeyStore(), cache_ttl=cache_ttl,
                           cache_size=cache_size))


class OneKey:
    """A key source over one fixed data key (known keys for format tests), granting as a key
    ring trusting AUTHORITY does."""

    def __init__(self, dek: Dek) -> None:
        self.dek = dek

    def dek_for_encrypt(self, customer_id: uuid.UUID) -> Dek:
        return self.dek

    def dek_for_decrypt(self, customer_id: uuid.UUID, dek_version: int, grant: object,
                        field: str | None = None) -> Dek:
        self.check(grant, customer_id, field)
        if dek_version != self.dek.version:
            raise UnknownKeyVersion(f"no data key v{dek_version} (this source holds v{self.dek.version})")
        return self.dek

    def check(self, grant: object, customer_id: uuid.UUID, field: str | None) -> None:
        AUTHORITY.check(grant, customer_id, field)  # type: ignore[arg-type]

    def trust(self, authority: GrantAuthority) -> None:
        raise RuntimeError("this source trusts the tests' authority already")


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
    return b"".join(cipher.decrypt(ANY, ctx, io.BytesIO(blob), plaintext_size=size))

