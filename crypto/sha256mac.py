"""HMAC-SHA256 and HKDF-SHA256 for the hot paths: a key whose schedule is hashed once
(`KeyedHash`, for the blind-index keys), and HKDF to one 32-byte block (`hkdf`, run for every
data key an import creates). Both equal the standard constructions — `hmac.digest` and
`cryptography`'s HKDF — which tests/crypto/test_sha256mac.py checks on random inputs.

No step looks anything up by a key byte: the pads are applied by XOR on whole integers.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

from crypto import _bulk

_BLOCK = 64  # SHA-256's block size
_IPAD = int.from_bytes(b"\x36" * _BLOCK, "big")
_OPAD = int.from_bytes(b"\x5c" * _BLOCK, "big")
_sha256 = hashlib.sha256


class KeyedHash:
    """HMAC-SHA256 under one key (RFC 2104), its key schedule hashed once: each MAC copies two
    primed SHA-256 states instead of re-deriving them, about half the cost of `hmac.digest`
    (an import computes five or six per row). Equal to `hmac.digest(key, msg, "sha256")`,
    which tests/crypto/test_sha256mac.py checks."""

    __slots__ = ("_inner", "_key", "_outer")

    def __init__(self, key: bytes) -> None:
        if len(key) > _BLOCK:
            key = _sha256(key).digest()
        self._key = key  # for `hex_many`, which hashes a whole batch in C
        padded = int.from_bytes(key.ljust(_BLOCK, b"\0"), "big")
        self._inner = _sha256((padded ^ _IPAD).to_bytes(_BLOCK, "big"))
        self._outer = _sha256((padded ^ _OPAD).to_bytes(_BLOCK, "big"))

    def digest(self, message: bytes) -> bytes:
        inner = self._inner.copy()
        inner.update(message)
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.digest()

    def hex_many(self, messages: Sequence[bytes], prefix: str, take: int) -> list[str]:
        """`prefix + digest(m)[:take].hex()` for each message, in one call into crypto/_bulk.c
        (a bulk import's blind indexes: a Python call per MAC cost more than the MAC)."""
        batch = messages if isinstance(messages, list) else list(messages)
        hexes: list[str] = _bulk.mac_hex(self._key, batch, prefix, take)
        return hexes

    def __repr__(self) -> str:
        return "KeyedHash(<key hidden>)"


_ZERO_SALT = KeyedHash(bytes(32))  # RFC 5869: no salt is HashLen zero bytes


def hkdf(key: bytes, *, salt: bytes | None, info: bytes) -> bytes:
    """HKDF-SHA256 (RFC 5869) to 32 bytes: extract, then the one block of expand, T(1) =
    HMAC(PRK, info ‖ 0x01) — computed directly, about twice as fast as building the
    `cryptography` HKDF object for every data key."""
    prk = _ZERO_SALT.digest(key) if salt is None else hmac.digest(salt, key, "sha256")
    padded = int.from_bytes(prk + bytes(_BLOCK - len(prk)), "big")
    inner = _sha256((padded ^ _IPAD).to_bytes(_BLOCK, "big") + info + b"\x01").digest()
    return _sha256((padded ^ _OPAD).to_bytes(_BLOCK, "big") + inner).digest()
