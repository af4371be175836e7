"""Keys never show: not in repr or str, not in exception messages; and crypto/ stays pure."""

from __future__ import annotations

import ast
import base64
import io
import pickle
import uuid
from pathlib import Path

import pytest

import crypto
from crypto.blind_index import BlindIndex
from crypto.envelope import FieldCipher
from crypto.errors import CryptoError
from crypto.keyring import wrap_aad
from crypto.signing import SigningKeys
from crypto.streaming import BlobCipher
from tests.crypto.helpers import ANY, blob_ctx, field_ctx, make_ring, seal_blob

PLAINTEXT = b"110105194912310021"


def _forms(secret: bytes) -> list[str]:
    return [secret.hex(), secret.hex().upper(), base64.b64encode(secret).decode(), repr(secret)[2:-1],
            secret.decode("latin-1")]


def test_no_key_material_in_repr_str_or_errors(tmp_path: Path) -> None:
    ring = make_ring(tmp_path)
    fields, blobs = FieldCipher(ring), BlobCipher(ring)
    ctx = field_ctx()
    sealed = fields.encrypt(ctx, PLAINTEXT)
    dek = ring.dek_for_decrypt(ctx.customer_id, 1, ANY)
    row = ring.store.get(ctx.customer_id, 1)
    assert row is not None and row.wrapped_key is not None
    raw_dek = ring.provider.unwrap(row.kek_version, row.wrapped_key, wrap_aad(ctx.customer_id, 1))
    secrets = [raw_dek, (tmp_path / "keys" / "kek-v1.key").read_bytes(),
               (tmp_path / "keys" / "blind-index-v1.key").read_bytes(), row.wrapped_key, PLAINTEXT]

    bctx = blob_ctx(ctx.customer_id)
    blob = seal_blob(blobs, bctx, PLAINTEXT)[0]
    errors: list[CryptoError] = []
    for attempt in (
        lambda: fields.decrypt(ANY, ctx._replace(column="email"), sealed),
        lambda: fields.decrypt(ANY, ctx, sealed[:-1] + bytes([sealed[-1] ^ 1])),
        lambda: b"".join(blobs.decrypt(ANY, bctx, io.BytesIO(blob[:-3]), plaintext_size=len(PLAINTEXT))),
        lambda: b"".join(blobs.decrypt(ANY, bctx._replace(row_id=uuid.uuid4()), io.BytesIO(blob))),
        lambda: ring.retire_kek(1),
        lambda: ring.destroy_deks(ctx.customer_id) and fields.decrypt(ANY, ctx, sealed),
    ):
        with pytest.raises(CryptoError) as caught:
            attempt()
        errors.append(caught.value)

    signing = SigningKeys.open(tmp_path / "keys", "export", create=True)
    other = blob_ctx()
    reader = blobs.decrypt(ANY, other, io.BytesIO(seal_blob(blobs, other, b"x")[0]))
    shown = [dek, row, ring, ring.provider, ring.store, fields, blobs, signing, signing.public_key(),
             BlindIndex.from_directory(tmp_path / "keys"), ring.provider.wrap(raw_dek, b"aad"), reader, *errors]
    text = "\n".join([repr(o) for o in shown] + [str(o) for o in shown])
    for secret in secrets:
        for form in _forms(secret):
            assert form not in text
    with pytest.raises(TypeError):
        pickle.dumps(dek)


def test_crypto_is_a_flat_pure_package() -> None:
    root = Path(crypto.__file__).parent
    assert [p.name for p in root.iterdir() if p.is_dir() and p.name != "__pycache__"] == []
    for path in root.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else (
                [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            for name in names:
                assert name.split(".")[0] not in {"archive", "service", "audit"}, f"{path.name} imports {name}"
