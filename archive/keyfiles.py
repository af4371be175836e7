"""Local key files under `<data_dir>/keys` for the audit log: the audit-lookup HMAC key and
the Ed25519 checkpoint signing key, both versioned (`<name>-v<N>.key`, mode 0600).

Generated on first use outside production; in production they must be provisioned (or
mounted), and a missing one is an error naming the file.
"""

from __future__ import annotations

import os
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from audit.lookup import AuditLookup


class MissingKey(RuntimeError):
    pass


def _versions(directory: Path, name: str) -> dict[int, Path]:
    pattern = re.compile(rf"^{re.escape(name)}-v(\d+)\.key$")
    found = {}
    for path in directory.glob(f"{name}-v*.key") if directory.exists() else []:
        if match := pattern.match(path.name):
            found[int(match.group(1))] = path
    return found


def _write_new(directory: Path, name: str, version: int, data: bytes) -> Path:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = directory / f"{name}-v{version}.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return path


def load_versions(directory: Path, name: str, *, create: bool, make: bytes | None = None) -> dict[int, bytes]:
    found = _versions(directory, name)
    if not found:
        if not create:
            raise MissingKey(f"no key {name}-v1.key in {directory}: provision it (see docs/operations.md)")
        found = {1: _write_new(directory, name, 1, make if make is not None else secrets.token_bytes(32))}
    return {v: p.read_bytes() for v, p in found.items()}


def audit_lookup(directory: Path, *, create: bool) -> AuditLookup:
    keys = load_versions(directory, "audit-hmac", create=create)
    return AuditLookup(keys=keys, active=max(keys))


def _new_ed25519() -> bytes:
    return Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())


@dataclass
class CheckpointKeys:
    """Signs checkpoints with the newest Ed25519 key; verifies with any version's public key."""

    private: dict[int, Ed25519PrivateKey] = field(repr=False)

    @property
    def active(self) -> int:
        return max(self.private)

    @property
    def key_id(self) -> str:
        return f"checkpoint-v{self.active}"

    def sign(self, data: bytes) -> bytes:
        return self.private[self.active].sign(data)

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {f"checkpoint-v{v}": k.public_key() for v, k in self.private.items()}

    def public_pem(self) -> dict[str, str]:
        return {kid: k.public_bytes(serialization.Encoding.PEM,
                                    serialization.PublicFormat.SubjectPublicKeyInfo).decode()
                for kid, k in self.public_keys().items()}

    def verify(self, key_id: str, data: bytes, signature: bytes) -> bool:
        key = self.public_keys().get(key_id)
        if key is None:
            return False
        try:
            key.verify(signature, data)
        except InvalidSignature:
            return False
        return True


def checkpoint_keys(directory: Path, *, create: bool) -> CheckpointKeys:
    pems = load_versions(directory, "checkpoint-ed25519", create=create, make=_new_ed25519())
    private = {}
    for version, pem in pems.items():
        key = serialization.load_pem_private_key(pem, password=None)
        if not isinstance(key, Ed25519PrivateKey):
            raise MissingKey(f"checkpoint-ed25519-v{version}.key is not an Ed25519 private key")
        private[version] = key
    return CheckpointKeys(private)
