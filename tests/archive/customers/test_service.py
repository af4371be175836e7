"""CustomerService on a real database: one unit of work per act — a new customer's data key
commits with it or not at all, a refused registration leaves nothing, a change that lost a race
to another is a 412 (not an internal error), and what is shown is decided and logged once."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from archive.customers.models import Customer
from archive.customers.registry import NewCustomer
from archive.customers.service import CustomerService
from archive.datakeys import DataKey
from archive.db import UnitOfWork
from archive.errors import Conflict, StaleVersion
from archive.identity.names import Names
from tests.archive.gate.small import Setup, setup

__all__ = ["setup"]


class FailingNames(Names):
    """Fails the act after the customer is written and sealed (looking up its owner's name)."""

    def username(self, session: Session, user_id: uuid.UUID | None) -> str | None:
        raise RuntimeError("the act failed after the customer was written")


def service(setup: Setup, names: Names | None = None) -> CustomerService:
    uow = UnitOfWork(setup.ctx.db.session_factory())
    return CustomerService(uow, setup.gate, index=setup.ctx.blind_index, ring=setup.ctx.key_ring,
                           names=names or setup.ctx.names)


def counts(setup: Setup, code: str) -> tuple[int, int]:
    """(customers with this code, data keys of customers with this code or of none at all)."""
    with setup.engine.connect() as conn:
        ids = list(conn.execute(select(Customer.id).where(Customer.code == code)).scalars())
        orphans = conn.execute(select(func.count()).select_from(DataKey)
                               .where(DataKey.customer_id.not_in(select(Customer.id)))).scalar_one()
        return len(ids), orphans


def test_a_registration_seals_under_a_key_stored_with_the_customer(setup: Setup) -> None:
    caller = setup.caller("rep")
    shown = service(setup).create(caller, NewCustomer(kind="individual", name="李新", code="C-S-NEW",
                                                      sensitive={"phone": "13700001111"}))
    assert shown["phone"] == "13700001111" and shown["owner"] == "rep"
    with setup.engine.connect() as conn:
        keys = conn.execute(select(DataKey.dek_version).where(DataKey.customer_id == uuid.UUID(str(shown["id"]))))
        assert list(keys.scalars()) == [1]
    assert counts(setup, "C-S-NEW") == (1, 0)


def test_a_registration_that_fails_after_sealing_leaves_neither_customer_nor_key(setup: Setup) -> None:
    caller = setup.caller("rep")
    with pytest.raises(RuntimeError, match="after the customer was written"):
        service(setup, FailingNames()).create(caller, NewCustomer(kind="individual", name="赵失败", code="C-S-FAIL",
                                                                  sensitive={"phone": "13700002222"}))
    assert counts(setup, "C-S-FAIL") == (0, 0)
    assert setup.events(caller) == []  # nothing was allowed: no event either


def test_a_duplicate_registration_is_refused_once_and_leaves_nothing(setup: Setup) -> None:
    first, second = setup.caller("rep"), setup.caller("rep")
    service(setup).create(first, NewCustomer(kind="individual", name="钱重复", code="C-S-DUP1",
                                             sensitive={"id_number": "11010519491231002X"}))
    with pytest.raises(Conflict, match="C-S-DUP1"):
        service(setup).create(second, NewCustomer(kind="individual", name="钱重复", code="C-S-DUP2",
                                                  sensitive={"id_number": "11010519491231002X"}))
    assert counts(setup, "C-S-DUP2") == (0, 0)
    assert [(a, d) for a, d, _ in setup.events(second)] == [("customer.create", "denied")]


# PostgreSQL only: on SQLite a unit holds the write lock from its first read, so no other
# writer can come between its read and its write — the race cannot happen there.
@pytest.mark.parametrize("setup", [pytest.param("postgresql", marks=pytest.mark.postgresql)], indirect=True)
def test_a_change_that_lost_a_race_is_412_not_an_internal_error(setup: Setup) -> None:
    racer = service(setup)
    raced: list[bool] = []

    @event.listens_for(racer.uow.session, "before_flush")
    def someone_else_first(*_: object) -> None:
        if not raced:  # another unit changes the customer after this one read it, before it writes
            raced.append(True)
            with setup.ctx.db.unit_of_work() as other:
                customer = other.session.get(Customer, setup.own)
                assert customer is not None
                customer.region = "徐州"

    with pytest.raises(StaleVersion):
        racer.change_status(setup.caller("rep"), setup.own, "stagnant", reason="quiet for a year", if_match=None)
    assert raced and setup.customer(setup.own).status == "active"
