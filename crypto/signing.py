"""Versioned Ed25519 signing keys for audit checkpoints and exports.

Private keys are PEM (PKCS#8) files `<name>-ed25519-v<N>.key`, mode 0600 — the layout
`archive/keyfiles.py` already uses for `checkpoint-ed25519-v<N>.key`. The newest version signs;
a signature carries its key id `<name>-v<N>:<fingerprint>` (fingerprint = first 8 bytes of
SHA-256 of the raw public key, in hex), and verifying needs only the public key, raw or PEM.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from crypto import _keyfiles
from crypto.errors import SignatureInvalid, UnknownKeyVersion


def fingerprint(raw_public_key: bytes) -> str:
    """16 hex digits: the first 8 bytes of SHA-256 over the raw 32-byte public key."""
    return hashlib.sha256(raw_public_key).digest()[:8].hex()


class PublicKey:
    """An Ed25519 public key with its id; all a verifier needs."""

    __slots__ = ("_key", "key_id", "raw")

    def __init__(self, key: Ed25519PublicKey, key_id: str | None = None) -> None:
        self._key = key
        self.raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        self.key_id = key_id or self.fingerprint

    @classmethod
    def load(cls, data: bytes | str, key_id: str | None = None) -> PublicKey:
        """From 32 raw bytes or a PEM `PUBLIC KEY` block."""
        if isinstance(data, bytes) and len(data) == 32:
            return cls(Ed25519PublicKey.from_public_bytes(data), key_id)
        loaded = serialization.load_pem_public_key(data.encode() if isinstance(data, str) else data)
        if not isinstance(loaded, Ed25519PublicKey):
            raise ValueError("not an Ed25519 public key")
        return cls(loaded, key_id)

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.raw)

    @property
    def pem(self) -> str:
        spki = serialization.PublicFormat.SubjectPublicKeyInfo
        return self._key.public_bytes(serialization.Encoding.PEM, spki).decode()

    def verify(self, data: bytes, signature: bytes) -> None:
        """Return quietly, or raise SignatureInvalid."""
        try:
            self._key.verify(signature, data)
        except InvalidSignature:
            raise SignatureInvalid(f"signature does not verify under {self.key_id}") from None

    def __repr__(self) -> str:
        return f"PublicKey({self.key_id})"


@dataclass(frozen=True, slots=True)
class Signature:
    key_id: str
    value: bytes  # 64 bytes


class SigningKeys:
    """Ed25519 keys by version; the highest signs. `repr` shows ids only."""

    def __init__(self, name: str, private: Mapping[int, Ed25519PrivateKey], directory: Path | None = None) -> None:
        if not private:
            raise UnknownKeyVersion(f"no {name} signing key")
        self.name = name
        self._dir = directory
        self._lock = threading.Lock()
        self._private = dict(private)
        self._public = {v: self._public_of(v, k) for v, k in self._private.items()}

    @classmethod
    def open(cls, directory: Path, name: str, *, create: bool = False) -> SigningKeys:
        """Load `<name>-ed25519-v<N>.key` files; with `create`, make v1 when there is none."""
        directory = Path(directory)
        stem = f"{name}-ed25519"
        if create and not _keyfiles.versions(directory, stem):
            _keyfiles.write_new(directory, stem, 1, _new_private_pem())
        private = {v: _load_private(_keyfiles.read_private(p), p.name)
                   for v, p in _keyfiles.versions(directory, stem).items()}
        return cls(name, private, directory)

    def _public_of(self, version: int, key: Ed25519PrivateKey) -> PublicKey:
        public = key.public_key()
        raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        return PublicKey(public, f"{self.name}-v{version}:{fingerprint(raw)}")

    @property
    def active_version(self) -> int:
        return max(self._private)

    def sign(self, data: bytes) -> Signature:
        version = self.active_version
        return Signature(self._public[version].key_id, self._private[version].sign(data))

    def public_key(self, version: int | None = None) -> PublicKey:
        chosen = self.active_version if version is None else version
        if chosen not in self._public:
            raise UnknownKeyVersion(f"no {self.name} signing key v{chosen}")
        return self._public[chosen]

    def public_keys(self) -> dict[str, PublicKey]:
        """Every version's public key by key id (publish these for verifiers)."""
        return {p.key_id: p for p in self._public.values()}

    def verify(self, data: bytes, signature: Signature) -> None:
        key = self.public_keys().get(signature.key_id)
        if key is None:
            raise SignatureInvalid(f"unknown signing key {signature.key_id}")
        key.verify(data, signature.value)

    def rotate(self) -> int:
        """Write the next version and sign with it from now on (old ones still verify)."""
        if self._dir is None:
            raise UnknownKeyVersion("these signing keys have no directory to write to")
        with self._lock:
            version = self.active_version + 1
            pem = _new_private_pem()
            _keyfiles.write_new(self._dir, f"{self.name}-ed25519", version, pem)
            key = _load_private(pem, "new key")
            self._public[version] = self._public_of(version, key)
            self._private[version] = key
        return version

    def __repr__(self) -> str:
        return f"SigningKeys({self.name}, versions={sorted(self._private)})"


def _new_private_pem() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


def _load_private(pem: bytes, name: str) -> Ed25519PrivateKey:
    key = serialization.load_pem_private_key(pem, password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise ValueError(f"{name} is not an Ed25519 private key")
    return key
