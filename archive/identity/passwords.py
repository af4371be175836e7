"""Argon2id password hashing with timing-safe handling of unknown users."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

# Production parameters (RFC 9106 "second recommended" profile with 64 MiB); asserted by a test.
PRODUCTION = {"time_cost": 3, "memory_cost": 65536, "parallelism": 4}


class Passwords:
    def __init__(self, *, time_cost: int, memory_cost: int, parallelism: int) -> None:
        self._hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)
        # Verified against when the username is unknown, so both paths cost the same.
        self._dummy_hash = self._hasher.hash("no user has this password")

    @property
    def parameters(self) -> dict[str, int]:
        h = self._hasher
        return {"time_cost": h.time_cost, "memory_cost": h.memory_cost, "parallelism": h.parallelism}

    def hash(self, password: str) -> str:
        return self._hasher.hash(password)

    def verify(self, stored_hash: str | None, password: str) -> bool:
        """True when `password` matches; always does one full Argon2 verification."""
        try:
            return self._hasher.verify(stored_hash or self._dummy_hash, password) and stored_hash is not None
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, stored_hash: str) -> bool:
        return self._hasher.check_needs_rehash(stored_hash)
