"""Crypto-shredding: after the DEK is destroyed the ciphertext is still stored, and every read
fails with KeyDestroyed — in this process, in a fresh one, and in one that had it cached
(once its cache TTL has passed)."""

from __future__ import annotations

import io
import uuid
from pathlib import Path

import pytest

from crypto.envelope import FieldCipher, FieldContext
from crypto.errors import KeyDestroyed
from crypto.keyring import KeyRing
from crypto.keys import LocalKeyProvider
from crypto.keystore import DekState, InMemoryKeyStore
from crypto.streaming import BlobCipher
from tests.crypto.helpers import ANY, blob_ctx, field_ctx, make_ring, seal_blob, trusted


def test_destroyed_customer_is_unreadable_but_still_stored(tmp_path: Path) -> None:
    store = InMemoryKeyStore()
    ring = make_ring(tmp_path, store=store)
    now = [0.0]
    other_process = trusted(KeyRing(LocalKeyProvider(tmp_path / "keys"), store, cache_ttl=60, clock=lambda: now[0]))
    doomed, kept = uuid.uuid4(), uuid.uuid4()
    database: dict[FieldContext, bytes] = {}
    blob_store: dict[FieldContext, bytes] = {}
    for customer in (doomed, kept):
        for column in ("id_number", "phone"):
            ctx = field_ctx(customer, column=column)
            database[ctx] = FieldCipher(ring).encrypt(ctx, b"value of " + column.encode())
        ctx = blob_ctx(customer)
        blob_store[ctx] = seal_blob(BlobCipher(ring), ctx, b"scan" * 1000)[0]
    ring.rotate_dek(doomed)  # two DEK versions: both must go
    ctx = field_ctx(doomed, column="email")
    database[ctx] = FieldCipher(ring).encrypt(ctx, b"newer")
    for ctx, sealed in database.items():  # warm the other process's cache
        FieldCipher(other_process).decrypt(ANY, ctx, sealed)

    snapshot = dict(database), dict(blob_store)
    assert ring.destroy_deks(doomed) == 2

    assert (database, blob_store) == snapshot  # the ciphertext is all still there
    rows = [store.get(doomed, v) for v in (1, 2)]
    assert all(r is not None and r.state is DekState.DESTROYED and r.wrapped_key is None for r in rows)

    fresh = trusted(KeyRing(LocalKeyProvider(tmp_path / "keys"), store))
    now[0] = 61.0  # the other process's cached keys have expired
    for keys in (ring, fresh, other_process):
        fields, blobs = FieldCipher(keys), BlobCipher(keys)
        for ctx, sealed in database.items():
            if ctx.customer_id == doomed:
                with pytest.raises(KeyDestroyed, match="permanently unreadable"):
                    fields.decrypt(ANY, ctx, sealed)
            else:
                assert fields.decrypt(ANY, ctx, sealed).startswith(b"value of ")
        for ctx, blob in blob_store.items():
            if ctx.customer_id == doomed:
                with pytest.raises(KeyDestroyed):
                    blobs.decrypt(ANY, ctx, io.BytesIO(blob))
            else:
                assert b"".join(blobs.decrypt(ANY, ctx, io.BytesIO(blob))) == b"scan" * 1000
        with pytest.raises(KeyDestroyed):
            fields.encrypt(field_ctx(doomed), b"no new data either")
