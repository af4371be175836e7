"""The `data_keys` store on both databases: crypto's KeyStore contract, and crypto-shredding
with the ciphertext still in the database and the blob store."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import Column, LargeBinary, MetaData, Table, Uuid, insert, select
from sqlalchemy.exc import IntegrityError

from archive.datakeys import SqlKeyStore
from archive.db import Database, make_engine
from archive.migrate import upgrade
from crypto.envelope import FieldCipher, FieldContext
from crypto.errors import KeyDestroyed
from crypto.keyring import KeyRing
from crypto.keys import LocalKeyProvider, generate_local_keys
from crypto.keystore import DekState, WrappedDek
from crypto.streaming import BlobCipher
from tests.crypto.helpers import ANY, trusted
from tests.crypto.keystore_contract import check_keystore


@pytest.fixture(params=["sqlite", "postgresql"])
def committed_engine(request, tmp_path):
    """A migrated database of its own, whose writes really commit."""
    if request.param == "postgresql":
        yield request.getfixturevalue("committed_pg_engine")
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'keys.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_the_sql_store_keeps_the_keystore_contract(committed_engine):
    check_keystore(lambda: SqlKeyStore(committed_engine))


def test_shredding_leaves_ciphertext_in_place_and_every_read_fails_as_destroyed(committed_engine, tmp_path):
    generate_local_keys(tmp_path / "keys")
    ring = trusted(KeyRing(LocalKeyProvider(tmp_path / "keys"), SqlKeyStore(committed_engine)))
    customer = uuid.uuid4()
    probe = Table("shred_probe", MetaData(), Column("id", Uuid, primary_key=True), Column("phone_ct", LargeBinary))
    probe.create(committed_engine)
    ctx = FieldContext("shred_probe", "phone", customer, customer)
    sealed = FieldCipher(ring).encrypt(ctx, b"13800138000")
    with committed_engine.begin() as conn:
        conn.execute(insert(probe), {"id": customer, "phone_ct": sealed})
    blob_path = tmp_path / "blob.bin"
    blob_ctx = FieldContext("documents", "content", uuid.uuid4(), customer)
    with blob_path.open("wb") as sink:
        BlobCipher(ring).encrypt(blob_ctx, io.BytesIO(b"contract text " * 1000), sink)

    assert ring.destroy_deks(customer) >= 1
    with committed_engine.connect() as conn:
        stored = conn.execute(select(probe.c.phone_ct)).scalar_one()
    assert stored == sealed and blob_path.stat().st_size > 14000  # still there…
    with pytest.raises(KeyDestroyed):  # …and unreadable for good
        FieldCipher(ring).decrypt(ANY, ctx, stored)
    with pytest.raises(KeyDestroyed), blob_path.open("rb") as source:
        b"".join(BlobCipher(ring).decrypt(ANY, blob_ctx, source))
    fresh = trusted(KeyRing(LocalKeyProvider(tmp_path / "keys"), SqlKeyStore(committed_engine)))  # no cache
    with pytest.raises(KeyDestroyed):
        FieldCipher(fresh).decrypt(ANY, ctx, stored)
    probe.drop(committed_engine)


def test_rotation_with_concurrent_readers_on_the_sql_store(committed_engine, tmp_path):
    """crypto's rotate → rewrap → retire → delete scenario, four reader threads, on data_keys."""
    from tests.crypto.test_rotation import run_rotation

    run_rotation(tmp_path, SqlKeyStore(committed_engine))


def test_a_key_made_within_a_unit_of_work_commits_with_it_or_not_at_all(committed_engine, tmp_path):
    """A registration seals through `ring.within(SqlKeyStore.within(session))`: the customer's
    first key is written in the registration's transaction, unseen outside it until it commits,
    and gone with it when it rolls back."""
    generate_local_keys(tmp_path / "keys")
    ring = trusted(KeyRing(LocalKeyProvider(tmp_path / "keys"), SqlKeyStore(committed_engine)))
    db = Database(committed_engine)
    lost, kept = uuid.uuid4(), uuid.uuid4()
    def register_then_crash() -> None:
        with db.unit_of_work() as uow:
            FieldCipher(ring.within(SqlKeyStore.within(uow.session))).encrypt(FieldContext("t", "c", lost, lost), b"x")
            assert SqlKeyStore.within(uow.session).get(lost, 1) is not None  # the transaction sees its own
            assert ring.store.get(lost, 1) is None  # nobody else does
            raise RuntimeError("crash before the customer commits")

    with pytest.raises(RuntimeError, match="crash"):
        register_then_crash()
    assert ring.store.get(lost, 1) is None  # rolled back with it
    ctx = FieldContext("t", "c", kept, kept)
    with db.unit_of_work() as uow:
        sealed = FieldCipher(ring.within(SqlKeyStore.within(uow.session))).encrypt(ctx, b"13800138000")
    assert FieldCipher(ring).decrypt(ANY, ctx, sealed) == b"13800138000"
    assert ring.destroy_deks(kept) == 1
    with pytest.raises(KeyDestroyed):
        FieldCipher(ring).decrypt(ANY, ctx, sealed)


def test_first_keys_are_added_in_the_callers_transaction_all_or_nothing(committed_engine):
    db = Database(committed_engine)
    first, second = uuid.uuid4(), uuid.uuid4()
    with db.unit_of_work() as uow:
        SqlKeyStore.within(uow.session).add_first_keys([WrappedDek(first, 1, b"w" * 60, 1, DekState.ACTIVE)])
    with pytest.raises(IntegrityError), db.unit_of_work() as uow:
        SqlKeyStore.within(uow.session).add_first_keys([WrappedDek(second, 1, b"w" * 60, 1, DekState.ACTIVE),
                                                        WrappedDek(first, 1, b"x" * 60, 1, DekState.ACTIVE)])
    store = SqlKeyStore(committed_engine)
    assert store.get(second, 1) is None  # all or nothing
    stored = store.get(first, 1)
    assert stored is not None and stored.wrapped_key == b"w" * 60
    with pytest.raises(RuntimeError, match="transaction that stores the customer"):
        store.add_first_keys([WrappedDek(second, 1, b"w" * 60, 1, DekState.ACTIVE)])
