"""The data-key service: per-customer DEKs wrapped by the provider's KEKs, and rotation.

Reads never stop during `rotate_kek` → `rewrap` → `retire_kek`: unwrapped DEKs are cached,
a rewrap swaps only the wrapping (the DEK, and so every ciphertext, stays as it is), and a
reader that raced a rewrap (its row was wrapped by a KEK that is retired by the time it
unwraps) reads the row again and unwraps it under the new KEK.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from crypto._cache import TtlLru
from crypto.dek import DEK_BYTES, NONCE_LIMIT, Dek
from crypto.errors import (
    CryptoError,
    KeyDestroyed,
    KeyRetired,
    KeyStillInUse,
    KeyUnavailable,
    UnknownKeyVersion,
)
from crypto.grants import Grant, GrantAuthority, NotGranted
from crypto.keys import KekVersion, KeyProvider
from crypto.keystore import DekState, KeyStore, WrappedDek

_ACTIVE = -1  # cache slot of a customer's active DEK; never a real version (those start at 1)


def wrap_aad(customer_id: uuid.UUID, dek_version: int) -> bytes:
    """A wrapped DEK opens only for its own customer and version (rows cannot be swapped)."""
    return b"crypto/dek/v1" + customer_id.bytes + dek_version.to_bytes(4, "big")


@dataclass(frozen=True, slots=True)
class RewrapProgress:
    done: int
    total: int
    failed: int


@dataclass(frozen=True, slots=True)
class RewrapReport:
    active_kek: int
    rewrapped: int
    failed: tuple[tuple[uuid.UUID, int], ...]  # (customer_id, dek_version) that would not unwrap


@dataclass(frozen=True, slots=True)
class KekStatus:
    version: int
    state: str  # KekState value
    has_material: bool
    data_keys: int  # non-destroyed DEKs wrapped by it


@dataclass(frozen=True, slots=True)
class KeyStatus:
    active_kek: int
    keks: tuple[KekStatus, ...]

    @property
    def pending_rewrap(self) -> int:
        return sum(k.data_keys for k in self.keks if k.version != self.active_kek)


class KeyRing:
    """DEKs for sealing and opening, and the KEK life cycle. Safe to share between threads.

    Keys to seal with are handed out freely; a key to open with (`dek_for_decrypt`) and a
    rewrap only against a `Grant` from the one `GrantAuthority` the ring trusts (`trust`,
    called once by the governance gate). Until then every such call raises `NotGranted`.
    """

    def __init__(
        self, provider: KeyProvider, store: KeyStore, *, cache_size: int = 10_000, cache_ttl: float = 60.0,
        nonce_limit: int = NONCE_LIMIT, clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.provider = provider
        self.store = store
        self._cache: TtlLru[tuple[int, int], Dek] = TtlLru(cache_size, cache_ttl, clock)
        self._cache_size, self._cache_ttl, self._clock = cache_size, cache_ttl, clock
        self._cached = self._cache.get  # bound once: the lookups below are the hot path
        self._nonce_limit = nonce_limit
        self._authority: GrantAuthority | None = None

    # -- grants --------------------------------------------------------------------------

    def trust(self, authority: GrantAuthority) -> None:
        """Accept grants minted by `authority` from now on. Once per ring: a second call raises."""
        if self._authority is not None:
            raise RuntimeError("this key ring already trusts a grant authority")
        if authority.__class__ is not GrantAuthority:
            raise TypeError("a key ring trusts a GrantAuthority")
        self._authority = authority

    def check(self, grant: Grant | None, customer_id: uuid.UUID, field: str | None) -> None:
        """`NotGranted` unless `grant` comes from the trusted authority and admits `field`
        (`table.column`; None: every field, which only a system grant admits) of the customer."""
        authority = self._authority
        if authority is None:
            raise NotGranted("this key ring trusts no grant authority yet: nothing is opened")
        authority.check(grant, customer_id, field)

    # -- data keys -----------------------------------------------------------------------

    def dek_for_encrypt(self, customer_id: uuid.UUID) -> Dek:
        """The customer's active DEK, created on first use. KeyDestroyed after shredding."""
        dek = self._cached((customer_id.int, _ACTIVE))
        return dek if dek is not None else self._load_active(customer_id)

    def dek_for_decrypt(self, customer_id: uuid.UUID, dek_version: int, grant: Grant | None,
                        field: str | None = None) -> Dek:
        """A given version of the customer's DEK (active or retired), to open `field` with
        (None: any field) — only if `grant` admits it (`check`)."""
        self.check(grant, customer_id, field)
        dek = self._cached((customer_id.int, dek_version))
        return dek if dek is not None else self._load(customer_id, dek_version)

    def new_dek(self, customer_id: uuid.UUID) -> tuple[WrappedDek, Dek]:
        """A brand-new customer's first data key (version 1, active): wrapped by the active KEK,
        for the caller to store in the transaction that inserts the customer, so both commit or
        neither does (a bulk import inserts many at once); and open, to seal that customer's
        fields in the same transaction. Not cached: once committed, it is read like any other."""
        return self._new(customer_id, 1)

    def within(self, store: KeyStore) -> KeyRing:
        """This ring's keys seen through `store`, a key store bound to the caller's transaction
        (archive/datakeys.py `SqlKeyStore.within`): the key it creates for a customer on the
        first seal (a registration) is stored in that transaction and commits with the customer
        or not at all. It seals only (it trusts no grant authority) and keeps a cache of its
        own, gone with it: a key whose transaction rolled back is never handed out again."""
        return KeyRing(self.provider, store, cache_size=self._cache_size, cache_ttl=self._cache_ttl,
                       nonce_limit=self._nonce_limit, clock=self._clock)

    def rotate_dek(self, customer_id: uuid.UUID) -> Dek:
        """A new active DEK version; older ones keep opening what they sealed until the caller
        re-encrypts it (`FieldCipher.reseal`, `BlobCipher.reseal`)."""
        current = self.store.get_current(customer_id)
        if current is not None and current.state is DekState.DESTROYED:
            raise KeyDestroyed(customer_id)
        dek = self._create(customer_id, 1 if current is None else current.dek_version + 1)
        self._cache.discard(lambda key: key == (customer_id.int, _ACTIVE))
        return dek

    def destroy_deks(self, customer_id: uuid.UUID) -> int:
        """Crypto-shredding: erase every wrapped DEK of the customer, then drop it from the
        cache. Other processes drop theirs within `cache_ttl` seconds."""
        count = self.store.destroy(customer_id)
        self._cache.discard(lambda key: key[0] == customer_id.int)
        return count

    def _load_active(self, customer_id: uuid.UUID) -> Dek:
        generation = self._cache.generation
        row = self.store.get_current(customer_id)
        if row is None:
            return self._create(customer_id, 1)
        if row.state is DekState.DESTROYED:
            raise KeyDestroyed(customer_id)
        if row.state is not DekState.ACTIVE:
            raise KeyUnavailable(f"customer {customer_id} has no active data key (newest is {row.state.value})")
        dek = self._unwrap(row)
        self._cache.put((customer_id.int, _ACTIVE), dek, generation=generation)
        self._cache.put((customer_id.int, dek.version), dek, generation=generation)
        return dek

    def _load(self, customer_id: uuid.UUID, dek_version: int) -> Dek:
        generation = self._cache.generation
        row = self.store.get(customer_id, dek_version)
        if row is None:
            raise UnknownKeyVersion(f"customer {customer_id} has no data key v{dek_version}")
        dek = self._unwrap(row)
        self._cache.put((customer_id.int, dek_version), dek, generation=generation)
        return dek

    def _new(self, customer_id: uuid.UUID, dek_version: int) -> tuple[WrappedDek, Dek]:
        key = secrets.token_bytes(DEK_BYTES)
        wrapped = self.provider.wrap(key, wrap_aad(customer_id, dek_version))
        return (WrappedDek(customer_id, dek_version, wrapped.blob, wrapped.kek_version, DekState.ACTIVE),
                Dek(customer_id, dek_version, key, limit=self._nonce_limit))

    def _create(self, customer_id: uuid.UUID, dek_version: int) -> Dek:
        mine, dek = self._new(customer_id, dek_version)
        stored = self.store.insert(mine)
        # Lost a race with another creator: use the key that was stored, never our own.
        return dek if stored == mine else self._unwrap(stored)

    def _unwrap(self, row: WrappedDek) -> Dek:
        for _ in range(3):
            if row.state is DekState.DESTROYED or row.wrapped_key is None:
                raise KeyDestroyed(row.customer_id)
            try:
                key = self.provider.unwrap(row.kek_version, row.wrapped_key, wrap_aad(row.customer_id, row.dek_version))
                return Dek(row.customer_id, row.dek_version, key, limit=self._nonce_limit)
            except (KeyRetired, UnknownKeyVersion):
                # A rewrap may have moved the row to a new KEK since we read it: read it again.
                fresh = self.store.get(row.customer_id, row.dek_version)
                if fresh is None or (fresh.kek_version == row.kek_version and fresh.state is row.state):
                    raise
                row = fresh
        raise KeyUnavailable(f"data key v{row.dek_version} of customer {row.customer_id} kept moving; retry")

    # -- key-encryption keys -------------------------------------------------------------

    def rotate_kek(self) -> int:
        """A new active KEK version. New DEKs are wrapped by it; run `rewrap` for the rest."""
        return self.provider.create_version()

    def rewrap(self, grant: Grant | None, *, batch: int = 500,
               progress: Callable[[RewrapProgress], None] | None = None) -> RewrapReport:
        """Re-wrap every DEK not under the active KEK, against a system grant (it unwraps every
        customer's key). Idempotent and resumable: it only ever looks at rows still under an
        older KEK, and each row is a compare-and-set."""
        self.check(grant, uuid.UUID(int=0), None)  # any customer, any field: a system grant
        active = self.provider.active_version()
        todo = {k: n for k, n in self.store.count_by_kek_version().items() if k != active and n}
        total, done, failed = sum(todo.values()), 0, []
        for kek_version in sorted(todo):
            after = None
            while rows := self.store.wrapped_under(kek_version, after=after, limit=batch):
                for row in rows:
                    after = (row.customer_id, row.dek_version)
                    self.check(grant, row.customer_id, None)
                    try:
                        done += self._rewrap_row(row)
                    except CryptoError:
                        failed.append(after)  # left where it is: retire will refuse this KEK
                if progress is not None:
                    progress(RewrapProgress(done, total, len(failed)))
        return RewrapReport(active, done, tuple(failed))

    def _rewrap_row(self, row: WrappedDek) -> bool:
        if row.wrapped_key is None:
            return False
        aad = wrap_aad(row.customer_id, row.dek_version)
        wrapped = self.provider.wrap(self.provider.unwrap(row.kek_version, row.wrapped_key, aad), aad)
        return self.store.update_wrapping(row.customer_id, row.dek_version, expected_kek_version=row.kek_version,
                                          wrapped_key=wrapped.blob, kek_version=wrapped.kek_version)

    def retire_kek(self, version: int) -> None:
        """Stop using a KEK. Refused (KeyStillInUse) while any DEK is still wrapped by it."""
        if version == self.provider.active_version():
            raise KeyStillInUse(version, 1, "it is the active version: rotate first")
        dependants = self.store.count_by_kek_version().get(version, 0)
        if dependants:
            raise KeyStillInUse(version, dependants)
        self.provider.retire_version(version)

    def delete_kek(self, version: int) -> None:
        """Destroy a retired KEK's material (irreversible)."""
        self.provider.delete_version(version)

    def status(self) -> KeyStatus:
        counts = self.store.count_by_kek_version()
        keks = self.provider.versions()
        return KeyStatus(self.provider.active_version(), tuple(_status(k, counts.get(k.version, 0)) for k in keks))

    def __repr__(self) -> str:
        return f"KeyRing({self.provider!r}, {self.store!r}, cache={self._cache!r})"


def _status(kek: KekVersion, data_keys: int) -> KekStatus:
    return KekStatus(kek.version, kek.state.value, kek.has_material, data_keys)
