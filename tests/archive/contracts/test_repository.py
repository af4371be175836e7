"""The ledger's queries on SQLite and PostgreSQL: what each scope reaches (the gate decides the
scope, the repository applies it), numbers ordered as numbers with a cursor that continues after
the last one shown, and the late steps paged by due date with the count of all of them."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

import pytest
from sqlalchemy import insert

from archive.contracts.models import ContractCounter
from archive.contracts.repository import ContractRepository, ContractScope, LedgerFilter
from archive.contracts.service import ContractLedger, late_cursor, number_parts
from archive.customers.models import Customer
from archive.db import Database, UnitOfWork, new_id
from archive.errors import InvalidInput
from archive.identity.models import Department, User
from archive.vocabulary import Scope


@dataclass
class Ledger:
    sales: Department
    credit: Department
    rep: User
    peer: User
    other: User
    contracts: dict[str, str]  # whose customer -> contract number
    customers: dict[str, Customer]


def _user(uow: UnitOfWork, name: str, department: Department) -> User:
    user = User(username=name, display_name=name, password_hash="x", department_id=department.id)
    uow.session.add(user)
    uow.session.flush()
    return user


def _customer(uow: UnitOfWork, code: str, department: Department, owner: User) -> Customer:
    customer = Customer(id=new_id(), code=code, kind="enterprise", department_id=department.id, owner_id=owner.id,
                        status="active")
    uow.session.add(customer)
    uow.session.flush()
    return customer


@pytest.fixture
def ledger(db: Database) -> Ledger:
    """SALES with a rep and a peer, CREDIT with another user; one customer each, one contract each."""
    with db.unit_of_work() as uow:
        sales, credit = Department(code="SALES", name="Sales"), Department(code="CREDIT", name="Credit")
        uow.session.add_all([sales, credit])
        uow.session.flush()
        rep, peer, other = _user(uow, "rep", sales), _user(uow, "peer", sales), _user(uow, "other", credit)
        contracts, customers = {}, {}
        for whose, department, owner in (("rep", sales, rep), ("peer", sales, peer), ("other", credit, other)):
            customers[whose] = _customer(uow, f"C-{whose.upper()}", department, owner)
            contracts[whose] = ContractLedger(uow.session).create(
                customer_id=customers[whose].id, department=department, title="supply", signed_on=date(2026, 1, 10),
                handler_id=owner.id, recorded_by=owner.id).number
    return Ledger(sales, credit, rep, peer, other, contracts, customers)


def _numbers(db: Database, scope: ContractScope, filters: LedgerFilter | None = None, **kw: object) -> list[str]:
    with db.unit_of_work() as uow:
        rows = ContractRepository(uow.session).page(scope, filters or LedgerFilter(), limit=100, **kw)  # type: ignore[arg-type]
        return [r.contract.number for r in rows]


def test_each_scope_reaches_its_customers_contracts(db: Database, ledger: Ledger) -> None:
    rep, sales = ledger.rep.id, ledger.sales.id
    c = ledger.contracts
    assert _numbers(db, ContractScope(Scope.OWN, rep, sales)) == [c["rep"]]
    assert set(_numbers(db, ContractScope(Scope.DEPARTMENT, rep, sales))) == {c["rep"], c["peer"]}
    for everything in (Scope.ALL, Scope.METADATA):
        assert set(_numbers(db, ContractScope(everything, rep, sales))) == set(c.values())
    for nothing in (Scope.LOAN, Scope.SELF, Scope.AGGREGATES, Scope.NONE):
        assert _numbers(db, ContractScope(nothing, rep, sales)) == []
    assert _numbers(db, ContractScope(Scope.DEPARTMENT, rep, None)) == []  # a user without a department
    assert _numbers(db, ContractScope(Scope.ALL), LedgerFilter(department="CREDIT")) == [c["other"]]


def test_a_row_carries_the_codes_people_read(db: Database, ledger: Ledger) -> None:
    with db.unit_of_work() as uow:
        repo = ContractRepository(uow.session)
        (row,) = repo.page(ContractScope(Scope.OWN, ledger.rep.id, ledger.sales.id), LedgerFilter(), limit=10)
        assert (row.department, row.customer_code, row.handler) == ("SALES", "C-REP", "rep")
        assert repo.row(row.contract.id) == row
        assert repo.row(uuid.uuid4()) is None
        assert repo.customer_of(row.contract.id) == row.contract.customer_id
        assert repo.customer_of(uuid.uuid4()) is None


def test_numbers_order_as_numbers_and_the_cursor_continues_after_the_last_shown(db: Database,
                                                                                ledger: Ledger) -> None:
    with db.unit_of_work() as uow:
        uow.session.execute(insert(ContractCounter).values(department_id=ledger.sales.id, year=2025, last=9998))
        made = [ContractLedger(uow.session).create(customer_id=ledger.customers["rep"].id, department=ledger.sales,
                                                   title="t", signed_on=date(2025, 6, 1), handler_id=None,
                                                   recorded_by=None).number for _ in range(3)]
    assert made == ["SALES-2025-9999", "SALES-2025-10000", "SALES-2025-10001"]
    everything = ContractScope(Scope.ALL)
    newest_first = sorted([ledger.contracts["rep"], ledger.contracts["peer"]], reverse=True)
    assert _numbers(db, everything, LedgerFilter(department="SALES")) == [*newest_first, *made[::-1]]
    assert _numbers(db, everything, LedgerFilter(year=2025), before=number_parts("SALES-2025-10001")) == made[1::-1]
    assert _numbers(db, everything, LedgerFilter(year=2025), before=number_parts("SALES-2025-10000")) == [made[0]]


def test_late_steps_page_by_due_date_with_the_count_of_all(db: Database, ledger: Ledger) -> None:
    today = date(2026, 6, 1)
    with db.unit_of_work() as uow:
        contracts = ContractLedger(uow.session)
        repo = contracts.repo
        by_owner = {r.handler: r.contract for r in repo.page(ContractScope(Scope.ALL), LedgerFilter(), limit=10)}
        # rep's signing (due 2026-02-10) handed over late, its archiving due 2026-04-01 and open;
        # peer's and other's signings never handed over (due 2026-02-10); a recent event not due yet.
        signed = contracts.events(by_owner["rep"].id)[0]
        contracts.hand_over(signed, date(2026, 3, 1), ledger.rep.id)
        contracts.record_event(by_owner["peer"], "changed", date(2026, 5, 20), None)
    everything = ContractScope(Scope.ALL)
    with db.unit_of_work() as uow:
        repo = ContractRepository(uow.session)
        page, count = repo.late_in_scope(today, everything, department=None, limit=10)
        assert count == 3
        assert [r.due_on for r in page] == [date(2026, 2, 10), date(2026, 2, 10), date(2026, 4, 1)]  # longest first
        assert {r.row.handler for r in page[:2]} == {"peer", "other"} and page[2].row.handler == "rep"
        assert [r.event.id for r in page[:2]] == sorted(r.event.id for r in page[:2])  # then by event id
        walked, after = [], None
        for _ in range(5):
            one, total = repo.late_in_scope(today, everything, department=None, limit=1, after=after)
            assert total == 3
            if not one:
                break
            walked.append(one[0].event.id)
            after = (one[0].due_on, one[0].event.id)
        assert walked == [r.event.id for r in page]
        own, own_count = repo.late_in_scope(today, ContractScope(Scope.OWN, ledger.rep.id, ledger.sales.id),
                                            department=None, limit=10)
        assert ([r.row.handler for r in own], own_count) == (["rep"], 1)
        credit, credit_count = repo.late_in_scope(today, everything, department="CREDIT", limit=10)
        assert ([r.row.handler for r in credit], credit_count) == (["other"], 1)
        assert repo.late_in_scope(today, ContractScope(Scope.LOAN), department=None, limit=10) == ([], 0)
        assert len(repo.late(today)) == 3


def test_cursors_not_from_the_list_are_invalid_input() -> None:
    assert number_parts("SALES-EAST-2026-0012") == ("SALES-EAST", 2026, 12)
    for bad in ("not-a-number", "SALES-2026", "-2026-1", "SALES-x-1"):
        with pytest.raises(InvalidInput):
            number_parts(bad)
    event = uuid.uuid4()
    assert late_cursor(f"2026-02-10_{event}") == (date(2026, 2, 10), event)
    for bad in ("2026-02-10", "yesterday_" + str(event), "2026-02-10_nope"):
        with pytest.raises(InvalidInput):
            late_cursor(bad)
