"""Data keys: creation, caching, DEK rotation, shredding, rewrap and retirement."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest

from crypto._cache import TtlLru
from crypto.envelope import FieldCipher, sealed_dek_version
from crypto.errors import KeyDestroyed, KeyRetired, KeyStillInUse, UnknownKeyVersion
from crypto.keyring import KeyRing, RewrapProgress
from crypto.keys import LocalKeyProvider
from crypto.keystore import DekState, InMemoryKeyStore
from tests.crypto.helpers import ANY, field_ctx, make_ring, trusted
from tests.crypto.keystore_contract import check_keystore


def test_the_in_memory_store_keeps_the_contract() -> None:
    check_keystore(InMemoryKeyStore)


def test_first_use_creates_one_wrapped_dek(tmp_path: Path) -> None:
    ring = make_ring(tmp_path)
    customer = uuid.uuid4()
    dek = ring.dek_for_encrypt(customer)
    assert ring.dek_for_encrypt(customer) is not None
    assert ring.dek_for_decrypt(customer, 1, ANY).version == dek.version == 1
    row = ring.store.get(customer, 1)
    assert row is not None and row.kek_version == 1 and row.state is DekState.ACTIVE
    assert len(row.wrapped_key or b"") == 61


def test_two_processes_racing_agree_on_one_dek(tmp_path: Path) -> None:
    store = InMemoryKeyStore()
    first = make_ring(tmp_path, store=store)
    second = trusted(KeyRing(LocalKeyProvider(tmp_path / "keys"), store))
    customer = uuid.uuid4()
    ctx = field_ctx(customer)
    sealed = FieldCipher(first).encrypt(ctx, b"x")
    # The second ring creates too (it saw no row), loses the insert, and must use the winner.
    store_get_current = store.get_current
    store.get_current = lambda _customer: None  # type: ignore[method-assign]
    try:
        assert FieldCipher(second).encrypt(ctx, b"y")
    finally:
        store.get_current = store_get_current  # type: ignore[method-assign]
    assert FieldCipher(second).decrypt(ANY, ctx, sealed) == b"x"


def test_rotate_dek_and_reseal(tmp_path: Path) -> None:
    ring = make_ring(tmp_path)
    cipher = FieldCipher(ring)
    ctx = field_ctx()
    old = cipher.encrypt(ctx, b"value")
    assert ring.rotate_dek(ctx.customer_id).version == 2
    new = cipher.reseal(ANY, ctx, old)
    assert (sealed_dek_version(old), sealed_dek_version(new)) == (1, 2)
    assert cipher.reseal(ANY, ctx, new) is new  # idempotent
    assert cipher.decrypt(ANY, ctx, old) == cipher.decrypt(ANY, ctx, new) == b"value"
    assert sealed_dek_version(cipher.encrypt(ctx, b"fresh")) == 2
    assert ring.store.get(ctx.customer_id, 1).state is DekState.RETIRED  # type: ignore[union-attr]


def test_unknown_dek_version(tmp_path: Path) -> None:
    ring = make_ring(tmp_path)
    customer = uuid.uuid4()
    ring.dek_for_encrypt(customer)
    with pytest.raises(UnknownKeyVersion, match="v5"):
        ring.dek_for_decrypt(customer, 5, ANY)


def test_destroy_refuses_new_seals_and_old_reads(tmp_path: Path) -> None:
    ring = make_ring(tmp_path)
    cipher = FieldCipher(ring)
    ctx = field_ctx()
    sealed = cipher.encrypt(ctx, b"value")
    assert ring.destroy_deks(ctx.customer_id) == 1
    with pytest.raises(KeyDestroyed, match="permanently unreadable"):
        cipher.decrypt(ANY, ctx, sealed)
    with pytest.raises(KeyDestroyed):
        cipher.encrypt(ctx, b"new")
    with pytest.raises(KeyDestroyed):
        ring.rotate_dek(ctx.customer_id)


def test_rewrap_is_idempotent_resumable_and_reports_progress(tmp_path: Path) -> None:
    ring = make_ring(tmp_path)
    customers = [uuid.uuid4() for _ in range(25)]
    for customer in customers:
        ring.dek_for_encrypt(customer)
    ring.rotate_kek()
    assert ring.status().pending_rewrap == 25

    seen: list[RewrapProgress] = []

    def interrupt(progress: RewrapProgress) -> None:
        seen.append(progress)
        if progress.done >= 10:
            raise KeyboardInterrupt  # the operator pressed Ctrl-C

    with pytest.raises(KeyboardInterrupt):
        ring.rewrap(ANY, batch=10, progress=interrupt)
    assert seen == [RewrapProgress(10, 25, 0)]
    assert ring.status().pending_rewrap == 15
    report = ring.rewrap(ANY, batch=10, progress=seen.append)
    assert report.rewrapped == 15 and report.failed == () and report.active_kek == 2
    assert ring.rewrap(ANY).rewrapped == 0  # nothing left: a rerun is a no-op
    assert ring.store.count_by_kek_version() == {2: 25}


def test_rewrap_leaves_a_damaged_row_and_retire_refuses(tmp_path: Path) -> None:
    ring = make_ring(tmp_path)
    good, bad = uuid.uuid4(), uuid.uuid4()
    ring.dek_for_encrypt(good)
    ring.dek_for_encrypt(bad)
    row = ring.store.get(bad, 1)
    assert row is not None and row.wrapped_key is not None
    ring.store._rows[(bad, 1)] = row.__class__(bad, 1, row.wrapped_key[:-1] + b"\x00", 1, row.state)  # type: ignore[attr-defined]
    ring.rotate_kek()
    report = ring.rewrap(ANY)
    assert report.rewrapped == 1 and report.failed == ((bad, 1),)
    with pytest.raises(KeyStillInUse, match="1 data keys are still wrapped"):
        ring.retire_kek(1)


def test_retire_refuses_the_active_kek_and_a_kek_in_use(tmp_path: Path) -> None:
    ring = make_ring(tmp_path)
    ring.dek_for_encrypt(uuid.uuid4())
    with pytest.raises(KeyStillInUse, match="active"):
        ring.retire_kek(1)
    ring.rotate_kek()
    with pytest.raises(KeyStillInUse) as caught:
        ring.retire_kek(1)
    assert caught.value.dependants == 1
    ring.rewrap(ANY)
    ring.retire_kek(1)
    status = ring.status()
    assert [(k.version, k.state, k.data_keys) for k in status.keks] == [(1, "retired", 0), (2, "active", 1)]


def test_a_row_left_under_a_retired_kek_reads_as_retired(tmp_path: Path) -> None:
    store = InMemoryKeyStore()
    ring = make_ring(tmp_path, store=store, cache_ttl=0)
    customer = uuid.uuid4()
    ring.dek_for_encrypt(customer)
    stale = store.get(customer, 1)
    ring.rotate_kek()
    ring.rewrap(ANY)
    ring.retire_kek(1)
    store._rows[(customer, 1)] = stale  # type: ignore[attr-defined,assignment]  # e.g. an old backup restored
    with pytest.raises(KeyRetired):
        ring.dek_for_decrypt(customer, 1, ANY)


def test_cache_ttl_and_size() -> None:
    now = [0.0]
    cache: TtlLru[tuple[int, int], str] = TtlLru(2, 10.0, clock=lambda: now[0])
    cache.put((1, 0), "a")
    cache.put((2, 0), "b")
    assert cache.get((1, 0)) == "a"  # now (1, 0) is the most recent
    cache.put((3, 0), "c")
    assert cache.get((2, 0)) is None and cache.get((1, 0)) == "a"
    now[0] = 10.0
    assert cache.get((1, 0)) is None and len(cache) == 1
    generation = cache.generation
    cache.discard(lambda key: True)
    cache.put((4, 0), "d", generation=generation)  # loaded before the invalidation: not cached
    assert cache.get((4, 0)) is None


def test_the_cache_serves_warm_reads_without_the_store(tmp_path: Path) -> None:
    ring = make_ring(tmp_path)
    cipher = FieldCipher(ring)
    ctx = field_ctx()
    sealed = cipher.encrypt(ctx, b"v")
    cipher.decrypt(ANY, ctx, sealed)
    ring.store.get = None  # type: ignore[method-assign,assignment]
    assert cipher.decrypt(ANY, ctx, sealed) == b"v"


def test_a_reader_that_raced_the_rewrap_reads_the_row_again(tmp_path: Path) -> None:
    """The reader fetched its row under KEK v1; by the time it unwraps, v1 is retired."""
    store = InMemoryKeyStore()
    admin = make_ring(tmp_path, store=store)
    ctx = field_ctx()
    sealed = FieldCipher(admin).encrypt(ctx, b"value")
    stale = store.get(ctx.customer_id, 1)
    admin.rotate_kek()
    admin.rewrap(ANY)
    admin.retire_kek(1)
    admin.delete_kek(1)

    class RacedStore(InMemoryKeyStore):
        served_stale = False

        def get(self, customer_id: uuid.UUID, dek_version: int):  # type: ignore[no-untyped-def]
            if not self.served_stale:
                self.served_stale = True
                return stale
            return store.get(customer_id, dek_version)

    reader = trusted(KeyRing(LocalKeyProvider(tmp_path / "keys"), RacedStore()))
    assert FieldCipher(reader).decrypt(ANY, ctx, sealed) == b"value"
