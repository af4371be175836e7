"""Crypto benchmarks (API.md "Benchmarks", issue 14 "Done when" 5).

crypto.field_seal_open: our seal+open of a 256-byte value through `FieldCipher` with a warm
DEK cache, building the `FieldContext` (and so the AAD) inside the timed call, against one
pre-built `AESGCM` encrypting and decrypting the same value with the same AAD and an
`os.urandom(12)` nonce; the open is against a read grant, checked as the product checks it.
ratio = baseline time / our time (target >= 0.25, i.e. at most 4x).
A second row builds a separate context for the seal and for the open, as two requests would.

crypto.blob_stream: our streaming seal + open (SHA-256 of the plaintext both ways) of 64 MiB
from and to in-memory streams, against one pre-built `AESGCM` over the same segments plus
`hashlib.sha256`, in memory. ratio = our MiB/s / baseline MiB/s (target >= 0.6).

Baseline and ours run in alternating short windows; the figures are medians.
Run from the repository root: `python bench/crypto.py` or `python -m bench.crypto`.
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if not __package__:  # run as a script: bench/ heads sys.path, and this file would shadow `crypto`
    sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != ROOT / "bench"]
    sys.path.insert(0, str(ROOT))

import hashlib  # noqa: E402
import io  # noqa: E402
import os  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import uuid  # noqa: E402
from collections.abc import Callable  # noqa: E402

from cryptography.hazmat.primitives.ciphers.aead import AESGCM  # noqa: E402

from bench._common import median_time, record  # noqa: E402
from crypto.envelope import FieldCipher, FieldContext  # noqa: E402
from crypto.grants import GrantAuthority, GrantKind  # noqa: E402
from crypto.keyring import KeyRing  # noqa: E402
from crypto.keys import LocalKeyProvider, generate_local_keys  # noqa: E402
from crypto.keystore import InMemoryKeyStore  # noqa: E402
from crypto.streaming import DEFAULT_SEGMENT, HEADER_BYTES, BlobCipher  # noqa: E402

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "9"))
FIELD_CALLS = int(os.environ.get("BENCH_FIELD_CALLS", "20000"))
BLOB_MIB = int(os.environ.get("BENCH_BLOB_MIB", "64"))
SEGMENT = int(os.environ.get("BENCH_SEGMENT", str(DEFAULT_SEGMENT)))


def alternating(baseline: Callable[[], object], ours: Callable[[], object], *, number: int) -> tuple[float, float]:
    """Median seconds per call of each, over ROUNDS alternating windows."""
    base, mine = [], []
    for _ in range(ROUNDS):
        base.append(median_time(baseline, repeat=1, number=number))
        mine.append(median_time(ours, repeat=1, number=number))
    return statistics.median(base), statistics.median(mine)


AUTHORITY = GrantAuthority()  # the benchmark's own, as the gate's would be


def bench_field(ring: KeyRing) -> None:
    cipher = FieldCipher(ring)
    customer, row = uuid.uuid4(), uuid.uuid4()
    grant = AUTHORITY.mint(GrantKind.READ, customer_ids=[customer],
                           fields=["customers.name", "customers.id_number", "customers.phone"])
    value = os.urandom(256)
    aad = FieldContext("customers", "id_number", row, customer).aad
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    ring.dek_for_encrypt(customer)  # warm the DEK cache

    def baseline() -> None:
        nonce = os.urandom(12)
        aead.decrypt(nonce, aead.encrypt(nonce, value, aad), aad)

    def ours() -> None:
        ctx = FieldContext("customers", "id_number", row, customer)
        cipher.decrypt(grant, ctx, cipher.encrypt(ctx, value))

    def ours_two_contexts() -> None:
        sealed = cipher.encrypt(FieldContext("customers", "id_number", row, customer), value)
        cipher.decrypt(grant, FieldContext("customers", "id_number", row, customer), sealed)

    assert cipher.decrypt(grant, FieldContext("customers", "id_number", row, customer),
                          cipher.encrypt(FieldContext("customers", "id_number", row, customer), value)) == value
    for name, fn, note in (("crypto.field_seal_open", ours, ""),
                           ("crypto.field_seal_open_two_contexts", ours_two_contexts, ", context built twice")):
        base, mine = alternating(baseline, fn, number=FIELD_CALLS)
        record(name, value=mine * 1e6, unit="µs", target=">= 0.25", n=ROUNDS,
               baseline=f"pre-built AESGCM encrypt+decrypt, 256 B, same AAD, os.urandom(12){note}",
               baseline_value=base * 1e6, ratio=base / mine)


def bench_blob(ring: KeyRing) -> None:
    cipher = BlobCipher(ring, segment_size=SEGMENT)
    ctx = FieldContext("documents", "content", uuid.uuid4(), uuid.uuid4())
    grant = AUTHORITY.mint(GrantKind.READ, customer_ids=[ctx.customer_id], fields=["documents.content"])
    data = os.urandom(BLOB_MIB << 20)
    aead = AESGCM(AESGCM.generate_key(bit_length=256))
    header, prefix = os.urandom(HEADER_BYTES), os.urandom(7)

    def baseline() -> None:
        view, digest, sealed = memoryview(data), hashlib.sha256(), []
        for index, start in enumerate(range(0, len(data), SEGMENT)):
            segment = view[start:start + SEGMENT]
            digest.update(segment)
            sealed.append(aead.encrypt(prefix + index.to_bytes(4, "big") + b"\x00", segment, header))
        digest.digest()
        check = hashlib.sha256()
        for index, segment in enumerate(sealed):
            check.update(aead.decrypt(prefix + index.to_bytes(4, "big") + b"\x00", segment, header))
        check.digest()

    def ours() -> None:
        sink = io.BytesIO()
        sealed = cipher.encrypt(ctx, io.BytesIO(data), sink)
        reader = cipher.decrypt(grant, ctx, io.BytesIO(sink.getvalue()), plaintext_size=sealed.plaintext_size,
                                sha256=sealed.sha256)
        for _ in reader:
            pass

    ours()  # warm up, and prove the round trip (sha256 is checked at the end)
    base, mine = [], []
    for _ in range(max(3, ROUNDS // 2)):
        base.append(_seconds(baseline))
        mine.append(_seconds(ours))
    mib = len(data) / 2**20
    ours_rate, base_rate = mib / statistics.median(mine), mib / statistics.median(base)
    record("crypto.blob_stream", value=ours_rate, unit="MiB/s", target=">= 0.6", n=len(mine),
           baseline=f"pre-built AESGCM per {SEGMENT // 1024} KiB segment + hashlib.sha256 both ways, in memory",
           baseline_value=base_rate, ratio=ours_rate / base_rate)


def _seconds(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        keys = Path(tmp) / "keys"
        generate_local_keys(keys)
        ring = KeyRing(LocalKeyProvider(keys), InMemoryKeyStore(), cache_ttl=3600)
        ring.trust(AUTHORITY)
        bench_field(ring)
        bench_blob(ring)


if __name__ == "__main__":
    main()
