"""The rules of `crypto.keystore.KeyStore`, as one function any implementation can be run
through: the archive's SQL store over `data_keys` calls `check_keystore(make_store)` too."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from crypto.keystore import DekState, KeyStore, WrappedDek


def _row(customer: uuid.UUID, version: int = 1, kek: int = 1, state: DekState = DekState.ACTIVE) -> WrappedDek:
    return WrappedDek(customer, version, f"wrapped-{customer}-{version}".encode(), kek, state)


def check_keystore(make_store: Callable[[], KeyStore]) -> None:
    store = make_store()
    alice, bob = sorted([uuid.uuid4(), uuid.uuid4()])
    assert store.get_current(alice) is None and store.get(alice, 1) is None

    first = _row(alice)
    assert store.insert(first) == first
    assert store.insert(_row(alice, kek=9)) == first  # insert-if-absent: the stored row wins
    assert store.get(alice, 1) == first

    store.insert(_row(alice, 2, kek=2))  # a new active version demotes the old one
    assert store.get(alice, 1).state is DekState.RETIRED  # type: ignore[union-attr]
    assert store.get_current(alice).dek_version == 2  # type: ignore[union-attr]

    store.insert(_row(bob))
    assert store.count_by_kek_version() == {1: 2, 2: 1}
    page = store.wrapped_under(1, after=None, limit=1)
    assert [(r.customer_id, r.dek_version) for r in page] == [(alice, 1)]
    rest = store.wrapped_under(1, after=(alice, 1), limit=10)
    assert [(r.customer_id, r.dek_version) for r in rest] == [(bob, 1)]

    assert store.update_wrapping(bob, 1, expected_kek_version=1, wrapped_key=b"new", kek_version=2)
    assert not store.update_wrapping(bob, 1, expected_kek_version=1, wrapped_key=b"again", kek_version=3)
    assert store.get(bob, 1) == WrappedDek(bob, 1, b"new", 2, DekState.ACTIVE)

    assert store.destroy(alice) == 2
    for version in (1, 2):
        row = store.get(alice, version)
        assert row is not None and row.state is DekState.DESTROYED and row.wrapped_key is None
    assert store.get_current(alice).state is DekState.DESTROYED  # type: ignore[union-attr]
    assert store.count_by_kek_version() == {2: 1}  # destroyed rows depend on nothing
    assert store.wrapped_under(1, after=None, limit=10) == []
    assert not store.update_wrapping(alice, 1, expected_kek_version=1, wrapped_key=b"x", kek_version=2)
