"""Plaintext only against a grant: the field cipher, the key ring and the blob reader each refuse
no grant, a forged one, one from another authority, one for another customer and a read grant
for a field it does not admit — before anything is opened."""

from __future__ import annotations

import copy
import io
import pickle
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from crypto.envelope import FieldCipher, FieldContext
from crypto.grants import Grant, GrantAuthority, GrantKind, NotGranted
from crypto.keyring import KeyRing
from crypto.keys import LocalKeyProvider, generate_local_keys
from crypto.keystore import InMemoryKeyStore
from crypto.streaming import BlobCipher
from tests.crypto.helpers import AUTHORITY, blob_ctx, field_ctx, make_ring, seal_blob

PHONE = b"13812345678"
SCAN = b"scan" * 500


def _forged() -> Grant:
    """A look-alike built without the authority: every attribute a real read grant has."""
    fake = object.__new__(Grant)
    for name, value in (("kind", GrantKind.SYSTEM), ("customer_ids", None), ("fields", None), ("reason", ""),
                        ("_authority", AUTHORITY)):
        object.__setattr__(fake, name, value)
    return fake


class _World:
    def __init__(self, tmp_path: Path) -> None:
        self.ring = make_ring(tmp_path)
        self.fields, self.blobs = FieldCipher(self.ring), BlobCipher(self.ring)
        self.ctx = field_ctx(column="phone")
        self.customer = self.ctx.customer_id
        self.sealed = self.fields.encrypt(self.ctx, PHONE)
        self.bctx = blob_ctx(self.customer)
        self.blob = seal_blob(self.blobs, self.bctx, SCAN)[0]

    def attempts(self, grant: Grant | None) -> dict[str, Callable[[], object]]:
        """Every way to plaintext (or to a key that opens it), with `grant`."""
        return {
            "field cipher": lambda: self.fields.decrypt(grant, self.ctx, self.sealed),
            "field reseal": lambda: self.fields.reseal(grant, self.ctx, self.sealed),
            "key ring": lambda: self.ring.dek_for_decrypt(self.customer, 1, grant, "customers.phone"),
            "key ring, any field": lambda: self.ring.dek_for_decrypt(self.customer, 1, grant),
            "blob reader": lambda: b"".join(self.blobs.decrypt(grant, self.bctx, io.BytesIO(self.blob))),
            "blob reseal": lambda: self.blobs.reseal(grant, self.bctx, io.BytesIO(self.blob), io.BytesIO()),
            "rewrap": lambda: self.ring.rewrap(grant),
        }


def _refused(world: _World, grant: Grant | None, *, except_: tuple[str, ...] = ()) -> None:
    for name, attempt in world.attempts(grant).items():
        if name in except_:
            continue
        with pytest.raises(NotGranted):
            attempt()


def test_without_a_grant_nothing_opens(tmp_path: Path) -> None:
    _refused(_World(tmp_path), None)


def test_a_forged_grant_is_refused(tmp_path: Path) -> None:
    world = _World(tmp_path)
    _refused(world, _forged())
    with pytest.raises(TypeError):
        Grant()


def test_a_grant_from_another_authority_is_refused(tmp_path: Path) -> None:
    other = GrantAuthority().mint(GrantKind.SYSTEM, customer_ids=None, fields=None)
    _refused(_World(tmp_path), other)


def test_a_grant_for_another_customer_is_refused(tmp_path: Path) -> None:
    world = _World(tmp_path)
    grant = AUTHORITY.mint(GrantKind.READ, customer_ids=[uuid.uuid4()],
                           fields=["customers.phone", "documents.content"])
    _refused(world, grant)


def test_a_read_grant_opens_only_the_fields_it_admits(tmp_path: Path) -> None:
    world = _World(tmp_path)
    email = FieldContext("customers", "email", world.customer, world.customer)
    sealed_email = world.fields.encrypt(email, b"a@example.com")
    grant = AUTHORITY.mint(GrantKind.READ, customer_ids=[world.customer], fields=["customers.email"])
    _refused(world, grant)  # not the phone, not the content, no key "for any field", no rewrap
    assert world.fields.decrypt(grant, email, sealed_email) == b"a@example.com"

    phone_only = AUTHORITY.mint(GrantKind.READ, customer_ids=[world.customer], fields=["customers.phone"])
    assert world.fields.decrypt(phone_only, world.ctx, world.sealed) == PHONE
    assert world.ring.dek_for_decrypt(world.customer, 1, phone_only, "customers.phone").version == 1
    with pytest.raises(NotGranted):
        world.fields.decrypt(phone_only, email, sealed_email)
    with pytest.raises(NotGranted):  # the same customer's other columns stay shut
        world.fields.decrypt(phone_only, world.ctx._replace(column="id_number"), world.sealed)

    content = AUTHORITY.mint(GrantKind.READ, customer_ids=[world.customer], fields=["documents.content"])
    assert b"".join(world.blobs.decrypt(content, world.bctx, io.BytesIO(world.blob))) == SCAN
    with pytest.raises(NotGranted):
        world.fields.decrypt(content, world.ctx, world.sealed)


def test_a_malformed_value_is_refused_before_it_is_described(tmp_path: Path) -> None:
    world = _World(tmp_path)
    with pytest.raises(NotGranted):
        world.fields.decrypt(None, world.ctx, b"\x07garbage")
    with pytest.raises(NotGranted):  # the blob source is not read at all without a grant
        world.blobs.decrypt(None, world.bctx, io.BytesIO(b""))


def test_a_system_grant_reseals_and_rewraps(tmp_path: Path) -> None:
    world = _World(tmp_path)
    system = AUTHORITY.mint(GrantKind.SYSTEM, customer_ids=None, fields=None, reason="rotation")
    world.ring.rotate_dek(world.customer)
    moved = world.fields.reseal(system, world.ctx, world.sealed)
    assert world.fields.decrypt(system, world.ctx, moved) == PHONE
    world.ring.rotate_kek()
    assert world.ring.rewrap(system).rewrapped == 2


def test_an_untrusting_ring_opens_nothing_and_trusts_once(tmp_path: Path) -> None:
    generate_local_keys(tmp_path / "keys")
    ring = KeyRing(LocalKeyProvider(tmp_path / "keys"), InMemoryKeyStore())
    fields = FieldCipher(ring)
    ctx = field_ctx()
    sealed = fields.encrypt(ctx, PHONE)  # sealing needs no grant
    grant = AUTHORITY.mint(GrantKind.SYSTEM, customer_ids=None, fields=None)
    with pytest.raises(NotGranted, match="trusts no grant authority"):
        fields.decrypt(grant, ctx, sealed)
    ring.trust(AUTHORITY)
    assert fields.decrypt(grant, ctx, sealed) == PHONE
    with pytest.raises(RuntimeError, match="already trusts"):
        ring.trust(GrantAuthority())
    with pytest.raises(NotGranted):  # still only the first authority's grants
        fields.decrypt(GrantAuthority().mint(GrantKind.SYSTEM, customer_ids=None, fields=None), ctx, sealed)


def test_a_grant_cannot_be_altered_copied_or_widened() -> None:
    customer = uuid.uuid4()
    grant = AUTHORITY.mint(GrantKind.READ, customer_ids=[customer], fields=["customers.phone"])
    with pytest.raises(AttributeError):
        grant.fields = None  # type: ignore[misc]
    for clone in (copy.copy, copy.deepcopy, pickle.dumps):
        with pytest.raises(TypeError):
            clone(grant)
    with pytest.raises(ValueError, match="system grant"):
        AUTHORITY.mint(GrantKind.READ, customer_ids=None, fields=["customers.phone"])
