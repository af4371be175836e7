"""rotate → rewrap → retire while four threads keep reading: no read may fail. Afterwards the
old KEK's file is deleted and everything still opens."""

from __future__ import annotations

import io
import random
import threading
import time
import uuid
from pathlib import Path

from crypto.envelope import FieldCipher, FieldContext
from crypto.keyring import KeyRing, RewrapProgress
from crypto.keys import LocalKeyProvider
from crypto.keystore import InMemoryKeyStore, KeyStore
from crypto.streaming import BlobCipher
from tests.crypto.helpers import ANY, blob_ctx, field_ctx, make_ring, open_blob, seal_blob, trusted

CUSTOMERS = 120


def _dataset(ring: KeyRing) -> tuple[dict[FieldContext, tuple[bytes, bytes]], dict[FieldContext, tuple[bytes, bytes]]]:
    fields, blobs = {}, {}
    cipher, blob_cipher = FieldCipher(ring), BlobCipher(ring, segment_size=256)
    for n in range(CUSTOMERS):
        customer = uuid.uuid4()
        for column in ("phone", "email"):
            ctx = field_ctx(customer, column=column)
            plain = f"{column} of customer {n}".encode()
            fields[ctx] = (cipher.encrypt(ctx, plain), plain)
        if n % 10 == 0:
            ctx = blob_ctx(customer)
            plain = random.randbytes(1500)
            blobs[ctx] = (seal_blob(blob_cipher, ctx, plain)[0], plain)
    return fields, blobs


def test_reads_never_fail_during_rotate_rewrap_retire(tmp_path: Path) -> None:
    run_rotation(tmp_path, InMemoryKeyStore())


def run_rotation(tmp_path: Path, store: KeyStore) -> None:
    """The scenario over any key store (tests/archive/keys runs it on the SQL store)."""
    admin = make_ring(tmp_path, store=store)
    fields, blobs = _dataset(admin)
    # Readers in "other processes": their own provider and no DEK cache, so every read
    # unwraps through the store and the KEKs while they change underneath.
    readers = [trusted(KeyRing(LocalKeyProvider(tmp_path / "keys"), store, cache_ttl=0)) for _ in range(4)]
    stop = threading.Event()
    reads, failures = [0] * 4, []

    def read(i: int) -> None:
        cipher, blob_cipher = FieldCipher(readers[i]), BlobCipher(readers[i], segment_size=256)
        field_items, blob_items = list(fields.items()), list(blobs.items())
        while not stop.is_set():
            try:
                ctx, (sealed, plain) = random.choice(field_items)
                assert cipher.decrypt(ANY, ctx, sealed) == plain
                if reads[i] % 5 == 0:
                    ctx, (blob, plain) = random.choice(blob_items)
                    assert open_blob(blob_cipher, ctx, blob, size=len(plain)) == plain
            except Exception as exc:  # every failure is recorded, none may happen
                failures.append(exc)
            reads[i] += 1

    threads = [threading.Thread(target=read, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.05)
        before = sum(reads)
        assert admin.rotate_kek() == 2

        def slowly(progress: RewrapProgress) -> None:
            time.sleep(0.005)  # leave the readers room to interleave with every batch

        report = admin.rewrap(ANY, batch=8, progress=slowly)
        assert report.rewrapped == CUSTOMERS and report.failed == ()
        admin.retire_kek(1)
        time.sleep(0.05)
        admin.delete_kek(1)
        time.sleep(0.05)
        during = sum(reads) - before
    finally:
        stop.set()
        for thread in threads:
            thread.join()
    assert failures == []
    assert during > 50, "the readers hardly ran during the rotation"
    assert not (tmp_path / "keys" / "kek-v1.key").exists()

    fresh = trusted(KeyRing(LocalKeyProvider(tmp_path / "keys"), store))  # a new process, cold cache
    cipher, blob_cipher = FieldCipher(fresh), BlobCipher(fresh, segment_size=256)
    for ctx, (sealed, plain) in fields.items():
        assert cipher.decrypt(ANY, ctx, sealed) == plain
    for ctx, (blob, plain) in blobs.items():
        assert b"".join(blob_cipher.decrypt(ANY, ctx, io.BytesIO(blob))) == plain
    assert [(k.version, k.state, k.has_material) for k in fresh.status().keks] == [
        (1, "retired", False), (2, "active", True)]
