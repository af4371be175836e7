"""The `data_keys` store on both databases: crypto's KeyStore contract, and crypto-shredding
with the ciphertext still in the database and the blob store."""

from __future__ import annotations

import io
import uuid

import pytest
from sqlalchemy import Column, LargeBinary, MetaData, Table, Uuid, insert, select
from sqlalchemy.exc import IntegrityError

from archive.datakeys import SqlKeyStore
from archive.db import make_engine
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


def test_inserting_a_key_that_exists_fails_as_an_integrity_error_and_stores_nothing(committed_engine):
    store = SqlKeyStore(committed_engine)
    first, second = uuid.uuid4(), uuid.uuid4()
    store.insert_many([WrappedDek(first, 1, b"w" * 60, 1, DekState.ACTIVE)])
    with pytest.raises(IntegrityError):
        store.insert_many([WrappedDek(second, 1, b"w" * 60, 1, DekState.ACTIVE),
                           WrappedDek(first, 1, b"x" * 60, 1, DekState.ACTIVE)])
    assert store.get(second, 1) is None  # all or nothing
    stored = store.get(first, 1)
    assert stored is not None and stored.wrapped_key == b"w" * 60
