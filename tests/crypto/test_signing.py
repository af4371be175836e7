"""Ed25519 signing keys: versioned, 0600 files, verification with the public key alone."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.x25519 import X25519PrivateKey

from crypto.errors import SignatureInvalid, UnknownKeyVersion
from crypto.signing import PublicKey, SigningKeys


def test_sign_and_verify_with_only_the_public_key(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path, "export", create=True)
    path = tmp_path / "export-ed25519-v1.key"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    signature = keys.sign(b"export body")
    public = keys.public_key()
    assert signature.key_id == public.key_id == f"export-v1:{public.fingerprint}"
    assert len(public.fingerprint) == 16 and len(signature.value) == 64
    for published in (public.raw, public.pem, public.pem.encode()):
        verifier = PublicKey.load(published)  # what an outside script holds
        verifier.verify(b"export body", signature.value)
        with pytest.raises(SignatureInvalid):
            verifier.verify(b"export body!", signature.value)
    damaged = bytes([signature.value[0] ^ 1]) + signature.value[1:]
    with pytest.raises(SignatureInvalid):
        public.verify(b"export body", damaged)


def test_rotation_keeps_old_signatures_verifiable(tmp_path: Path) -> None:
    keys = SigningKeys.open(tmp_path, "checkpoint", create=True)
    old = keys.sign(b"checkpoint 1")
    assert keys.rotate() == 2
    new = keys.sign(b"checkpoint 2")
    assert new.key_id.startswith("checkpoint-v2:") and old.key_id.startswith("checkpoint-v1:")
    reopened = SigningKeys.open(tmp_path, "checkpoint")
    reopened.verify(b"checkpoint 1", old)
    reopened.verify(b"checkpoint 2", new)
    assert set(reopened.public_keys()) == {old.key_id, new.key_id}
    with pytest.raises(SignatureInvalid, match="unknown"):
        reopened.verify(b"checkpoint 2", type(new)("checkpoint-v9:0000", new.value))


def test_reads_the_audit_checkpoint_key_files(tmp_path: Path) -> None:
    """archive/keyfiles.py writes checkpoint-ed25519-v<N>.key: the same layout."""
    SigningKeys.open(tmp_path, "checkpoint", create=True)
    assert (tmp_path / "checkpoint-ed25519-v1.key").read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_no_keys(tmp_path: Path) -> None:
    with pytest.raises(UnknownKeyVersion):
        SigningKeys.open(tmp_path, "export")
    with pytest.raises(ValueError, match="PEM"):
        PublicKey.load(b"-----BEGIN PUBLIC KEY-----\nnot a key\n-----END PUBLIC KEY-----\n")
    x25519 = X25519PrivateKey.generate().public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    with pytest.raises(ValueError, match="not an Ed25519"):
        PublicKey.load(x25519)
