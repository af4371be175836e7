"""Where wrapped data keys live: the `KeyStore` protocol and an in-memory store for tests.

The real store is the archive's `data_keys` table (one row per customer and DEK version):

    customer_id  UUID     part of the primary key (no foreign key until customers exist)
    dek_version  integer  part of the primary key; 1, 2, … per customer
    wrapped_key  bytes    NULL once destroyed
    kek_version  integer  the KEK that wrapped it; index (kek_version, customer_id, dek_version)
    state        text     active | retired | destroyed

Rules every implementation keeps (tests/crypto/test_keystore.py runs them against any store):
- `insert` is insert-if-absent and returns the row that is stored afterwards, so two
  processes creating a customer's first DEK agree on one. Inserting an ACTIVE row demotes the
  customer's other ACTIVE rows to RETIRED in the same transaction.
- A DEK row commits with the data sealed under it, never after it: a new customer's first
  key is inserted in the very transaction that inserts the customer (`KeyRing.new_dek`, or
  `KeyRing.within` a store bound to that transaction), so a crash leaves both or neither.
- `destroy` keeps the rows (state DESTROYED, wrapped_key NULL): the store then still says
  the customer *was* keyed, which is how readers get `KeyDestroyed` rather than "no key".
- Row order is (customer_id, dek_version), UUIDs compared as 16 big-endian bytes (the order of
  PostgreSQL `uuid` and of SQLAlchemy's 32-hex-digit SQLite form alike).
"""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Protocol


class DekState(StrEnum):
    ACTIVE = "active"  # seals new values; one per customer
    RETIRED = "retired"  # an older version after DEK rotation: opens, never seals
    DESTROYED = "destroyed"  # crypto-shredded: the wrapped key is gone


@dataclass(frozen=True, slots=True)
class WrappedDek:
    """One `data_keys` row. `repr` gives the size of the wrapped key, never its bytes."""

    customer_id: uuid.UUID
    dek_version: int
    wrapped_key: bytes | None = field(repr=False)
    kek_version: int
    state: DekState

    def __repr__(self) -> str:
        size = "erased" if self.wrapped_key is None else f"{len(self.wrapped_key)} bytes"
        return (f"WrappedDek(customer_id={self.customer_id}, dek_version={self.dek_version}, "
                f"kek_version={self.kek_version}, state={self.state.value}, wrapped_key={size})")


Cursor = tuple[uuid.UUID, int]  # (customer_id, dek_version) of the last row seen


class KeyStore(Protocol):
    """Wrapped DEKs by customer and version. Implementations must be thread-safe."""

    def get_current(self, customer_id: uuid.UUID) -> WrappedDek | None:
        """The customer's newest row in any state (DESTROYED after shredding); None if unkeyed."""
        ...

    def get(self, customer_id: uuid.UUID, dek_version: int) -> WrappedDek | None: ...

    def insert(self, row: WrappedDek) -> WrappedDek:
        """Insert if (customer_id, dek_version) is free; return the stored row either way."""
        ...

    def update_wrapping(
        self, customer_id: uuid.UUID, dek_version: int, *, expected_kek_version: int, wrapped_key: bytes,
        kek_version: int,
    ) -> bool:
        """Compare-and-set for rewrap: only if the row is still under `expected_kek_version`
        and not destroyed. False when another rewrap (or a destroy) got there first."""
        ...

    def destroy(self, customer_id: uuid.UUID) -> int:
        """Erase every wrapped key of the customer (state DESTROYED); the number of rows."""
        ...

    def wrapped_under(self, kek_version: int, *, after: Cursor | None, limit: int) -> list[WrappedDek]:
        """Up to `limit` non-destroyed rows under this KEK, in row order, after `after`."""
        ...

    def count_by_kek_version(self) -> dict[int, int]:
        """Non-destroyed rows per KEK version (what still depends on each KEK)."""
        ...


class InMemoryKeyStore:
    """The protocol over a dict, for tests and benchmarks."""

    def __init__(self) -> None:
        self._rows: dict[Cursor, WrappedDek] = {}
        self._lock = threading.Lock()

    def get_current(self, customer_id: uuid.UUID) -> WrappedDek | None:
        with self._lock:
            mine = [row for (cid, _), row in self._rows.items() if cid == customer_id]
        return max(mine, key=lambda row: row.dek_version, default=None)

    def get(self, customer_id: uuid.UUID, dek_version: int) -> WrappedDek | None:
        return self._rows.get((customer_id, dek_version))

    def insert(self, row: WrappedDek) -> WrappedDek:
        with self._lock:
            key = (row.customer_id, row.dek_version)
            if key in self._rows:
                return self._rows[key]
            if row.state is DekState.ACTIVE:
                for k, other in self._rows.items():
                    if k[0] == row.customer_id and other.state is DekState.ACTIVE:
                        self._rows[k] = replace(other, state=DekState.RETIRED)
            self._rows[key] = row
            return row

    def update_wrapping(
        self, customer_id: uuid.UUID, dek_version: int, *, expected_kek_version: int, wrapped_key: bytes,
        kek_version: int,
    ) -> bool:
        with self._lock:
            row = self._rows.get((customer_id, dek_version))
            if row is None or row.state is DekState.DESTROYED or row.kek_version != expected_kek_version:
                return False
            self._rows[(customer_id, dek_version)] = replace(row, wrapped_key=wrapped_key, kek_version=kek_version)
            return True

    def destroy(self, customer_id: uuid.UUID) -> int:
        with self._lock:
            keys = [k for k in self._rows if k[0] == customer_id]
            for k in keys:
                self._rows[k] = replace(self._rows[k], wrapped_key=None, state=DekState.DESTROYED)
            return len(keys)

    def wrapped_under(self, kek_version: int, *, after: Cursor | None, limit: int) -> list[WrappedDek]:
        with self._lock:
            keys = sorted(k for k, row in self._rows.items()
                          if row.kek_version == kek_version and row.state is not DekState.DESTROYED
                          and (after is None or k > after))
            return [self._rows[k] for k in keys[:limit]]

    def count_by_kek_version(self) -> dict[int, int]:
        counts: dict[int, int] = {}
        with self._lock:
            for row in self._rows.values():
                if row.state is not DekState.DESTROYED:
                    counts[row.kek_version] = counts.get(row.kek_version, 0) + 1
        return counts

    def __repr__(self) -> str:
        return f"InMemoryKeyStore({len(self._rows)} rows)"
