from __future__ import annotations

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey


class Ed25519Keys:
    """Real Ed25519 signing for the checkpoint tests (one key, id 'test-v1')."""

    key_id = "test-v1"

    def __init__(self) -> None:
        self._key = Ed25519PrivateKey.generate()

    def sign(self, data: bytes) -> bytes:
        return self._key.sign(data)

    def verify(self, key_id: str, data: bytes, signature: bytes) -> bool:
        if key_id != self.key_id:
            return False
        try:
            self._key.public_key().verify(signature, data)
        except InvalidSignature:
            return False
        return True


@pytest.fixture
def keys() -> Ed25519Keys:
    return Ed25519Keys()


@pytest.fixture
def conn(db):
    """The test transaction's connection (rolled back after the test)."""
    with db.session_factory() as session:
        yield session.connection()
