"""Contract numbers per department and year: consecutive, never reused, safe under concurrent
creation; events and the two one-month hand-over steps; late steps."""

from __future__ import annotations

import threading
from datetime import date

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import sessionmaker

from archive.contracts.models import Contract
from archive.contracts.service import ContractLedger, due
from archive.customers.models import Customer
from archive.db import Database, make_engine, new_id, utcnow
from archive.errors import Conflict, InvalidInput
from archive.identity.models import Department, User
from archive.migrate import upgrade


def _seed(engine: Engine) -> tuple[Department, Customer]:
    with sessionmaker(engine, expire_on_commit=False).begin() as s:
        dept = Department(code="SALES", name="Sales")
        s.add(dept)
        s.flush()
        customer = Customer(id=new_id(), code="C-1", kind="enterprise", department_id=dept.id, status="active")
        s.add(customer)
    return dept, customer


def _create_concurrently(engine: Engine, dept: Department, customer: Customer, n: int) -> list[str]:
    db = Database(engine)
    barrier = threading.Barrier(n)
    numbers: list[str] = []
    errors: list[BaseException] = []

    def create() -> None:
        try:
            barrier.wait()
            with db.unit_of_work() as uow:
                contract = ContractLedger(uow.session).create(customer_id=customer.id, department=dept,
                                                              title="supply", signed_on=date(2026, 3, 2),
                                                              handler_id=None, recorded_by=None)
                numbers.append(contract.number)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    return numbers


def test_twenty_concurrent_creations_on_postgresql_get_twenty_consecutive_numbers(committed_pg_engine):
    dept, customer = _seed(committed_pg_engine)
    numbers = _create_concurrently(committed_pg_engine, dept, customer, 20)
    assert sorted(numbers) == [f"SALES-2026-{i:04d}" for i in range(1, 21)]


def test_concurrent_creations_on_sqlite_too(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'a.db'}")
    upgrade(engine)
    dept, customer = _seed(engine)
    numbers = _create_concurrently(engine, dept, customer, 8)
    assert sorted(numbers) == [f"SALES-2026-{i:04d}" for i in range(1, 9)]
    engine.dispose()


@pytest.fixture
def seeded(db):  # type: ignore[no-untyped-def]
    with db.unit_of_work() as uow:
        dept = Department(code="CREDIT", name="Credit")
        uow.session.add(dept)
        uow.session.flush()
        customer = Customer(id=new_id(), code="C-2", kind="individual", department_id=dept.id, status="active")
        clerk = User(username="cm", display_name="cm", password_hash="x", department_id=dept.id)
        uow.session.add_all([customer, clerk])
    return db, dept, customer, clerk


def test_a_rolled_back_creation_gives_its_number_back_and_years_count_apart(seeded):
    db, dept, customer, _ = seeded
    make = dict(customer_id=customer.id, department=dept, title="t", handler_id=None, recorded_by=None)
    with db.unit_of_work() as uow:
        assert ContractLedger(uow.session).create(signed_on=date(2026, 1, 5), **make).number == "CREDIT-2026-0001"
    def fail_after_numbering() -> None:
        with db.unit_of_work() as uow:
            ContractLedger(uow.session).create(signed_on=date(2026, 1, 6), **make)
            raise RuntimeError("the request failed after numbering")

    with pytest.raises(RuntimeError):
        fail_after_numbering()
    with db.unit_of_work() as uow:
        ledger = ContractLedger(uow.session)
        assert ledger.create(signed_on=date(2026, 2, 1), **make).number == "CREDIT-2026-0002"
        assert ledger.create(signed_on=date(2027, 1, 2), **make).number == "CREDIT-2027-0001"


def test_events_and_steps_with_their_due_dates_and_late_ones(seeded):
    db, dept, customer, clerk = seeded
    with db.unit_of_work() as uow:
        ledger = ContractLedger(uow.session)
        contract = ledger.create(customer_id=customer.id, department=dept, title="t", signed_on=date(2026, 1, 31),
                                 handler_id=None, recorded_by=None)
        signed = ledger.events(contract.id)[0]
        assert signed.handover_due == date(2026, 2, 28)  # one calendar month, clamped to the month's end
        assert [x.step for x in ledger.late(date(2026, 2, 28))] == []
        assert [(x.step, x.days_late) for x in ledger.late(date(2026, 3, 3))] == [("handover", 3)]
        ledger.hand_over(signed, date(2026, 3, 5), clerk.id)
        assert signed.archive_due == date(2026, 4, 5)
        assert ledger.late(date(2026, 4, 5)) == []
        assert [x.step for x in ledger.late(date(2026, 4, 6))] == ["archive"]
        with pytest.raises(Conflict):
            ledger.hand_over(signed, date(2026, 3, 6), clerk.id)
        ledger.archive(signed, date(2026, 4, 6))
        assert ledger.late(date(2027, 1, 1)) == []
        performed = ledger.record_event(contract, "performed", date(2026, 6, 1), None)
        assert performed.handover_due == due(date(2026, 6, 1), 1) and contract.status == "performed"
        with pytest.raises(InvalidInput):
            ledger.record_event(contract, "changed", date(2025, 12, 1), None)
        ledger.record_event(contract, "terminated", date(2026, 7, 1), None)
        with pytest.raises(Conflict):
            ledger.record_event(contract, "changed", date(2026, 7, 2), None)
        assert ledger.flag_late(date(2026, 9, 1), utcnow()) == 2
        assert ledger.flag_late(date(2026, 9, 1), utcnow()) == 0
        assert uow.session.scalar(select(Contract.status).where(Contract.id == contract.id)) == "terminated"


def test_events_are_recorded_in_the_order_they_happened(seeded):
    db, dept, customer, _ = seeded
    with db.unit_of_work() as uow:
        ledger = ContractLedger(uow.session)
        contract = ledger.create(customer_id=customer.id, department=dept, title="t", signed_on=date(2026, 2, 1),
                                 handler_id=None, recorded_by=None)
        ledger.record_event(contract, "performed", date(2026, 5, 1), None)
        with pytest.raises(InvalidInput, match="last recorded event"):
            ledger.record_event(contract, "terminated", date(2026, 4, 30), None)
        assert ledger.record_event(contract, "terminated", date(2026, 5, 1), None).kind == "terminated"
