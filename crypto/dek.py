"""An unwrapped data key (DEK): one customer's AES-256 key, ready to seal and open.

The raw key never serves AES directly: field values use a subkey derived once with HKDF
(info `crypto/field/v1`), and each blob derives its own key from the DEK and a random salt
(`crypto.streaming`). Keeping the two uses apart means a field nonce and a blob nonce can
never meet under one key.

Nonce budget: field values use random 96-bit nonces. NIST SP 800-38D caps a key at 2^32
random-nonce messages; we stop far below, at `NONCE_LIMIT` = 2^30 seals per DEK
(collision probability ≈ 2^-37). The count is kept per process on the cached key; it is a
backstop against a runaway loop, not a fleet-wide ledger (docs/crypto.md "Nonce bound").
"""

from __future__ import annotations

import itertools
import uuid
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from crypto.errors import KeyLimitReached
from crypto.grants import Grant, GrantAuthority

DEK_BYTES = 32
FIELD_KEY_INFO = b"crypto/field/v1"  # HKDF info of the field-value subkey
FIELD_FORMAT = 1  # first byte of every sealed field value (crypto.envelope)
NONCE_LIMIT = 2**30
MAX_DEK_VERSION = 2**32 - 1


def hkdf(key: bytes, *, salt: bytes | None, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) to 32 bytes, by `cryptography`."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=info).derive(key)


class Dek:
    """One version of one customer's data key. `repr` shows ids only, never bytes."""

    __slots__ = ("_blob_root", "aead", "customer_id", "header", "limit", "seals", "version")

    def __init__(self, customer_id: uuid.UUID, version: int, key: bytes, *, limit: int = NONCE_LIMIT) -> None:
        if len(key) != DEK_BYTES:
            raise ValueError(f"a data key has {DEK_BYTES} bytes")
        if not 1 <= version <= MAX_DEK_VERSION:
            raise ValueError("DEK versions run from 1 to 2^32-1")
        self.customer_id = customer_id
        self.version = version
        # Built once per unwrap and kept in the DEK cache: every field seal and open reuses it.
        self.aead = AESGCM(hkdf(key, salt=None, info=FIELD_KEY_INFO))
        self.header = bytes((FIELD_FORMAT,)) + version.to_bytes(4, "big")
        self.limit = limit
        self._blob_root = key
        # Seals so far, counted by `next()`: atomic under the GIL, so no lock on the hot path.
        self.seals = itertools.count(1)

    def over_limit(self) -> KeyLimitReached:
        return KeyLimitReached(f"data key v{self.version} of customer {self.customer_id} "
                               f"reached {self.limit} seals in this process: rotate it")

    def blob_key(self, salt: bytes, info: bytes) -> bytes:
        """A per-blob key: HKDF(DEK, salt, info). Fresh salt per blob, so nonces never repeat."""
        return hkdf(self._blob_root, salt=salt, info=b"crypto/blob/v1" + info)

    def __repr__(self) -> str:
        return f"Dek(customer_id={self.customer_id}, version={self.version})"

    __str__ = __repr__

    def __reduce__(self) -> str | tuple[object, ...]:
        raise TypeError("data keys are not picklable")  # keeps them out of caches and queues


class DekSource(Protocol):
    """Where the ciphers get keys: `crypto.keyring.KeyRing`. A key to open with is handed out
    only against a grant that admits the field (`table.column`; None: every field) of that
    customer; `check` raises `NotGranted` otherwise."""

    def dek_for_encrypt(self, customer_id: uuid.UUID) -> Dek: ...

    def dek_for_decrypt(self, customer_id: uuid.UUID, dek_version: int, grant: Grant | None,
                        field: str | None = None) -> Dek: ...

    def check(self, grant: Grant | None, customer_id: uuid.UUID, field: str | None) -> None: ...

    def trust(self, authority: GrantAuthority) -> None: ...
