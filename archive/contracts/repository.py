"""Queries on the contract ledger. Scope filters are applied here, from what the gate decided
(`ContractScope`); the rules that use these queries are in `service.py`."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any, NamedTuple, TypeVar

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, aliased

from archive.contracts.models import Contract, ContractCounter, ContractEvent
from archive.customers.models import Customer
from archive.identity.models import Department, User
from archive.vocabulary import Scope


@dataclass(frozen=True, slots=True)
class ContractScope:
    """Whose contracts a caller reaches, as the gate decided: every customer's (`all`,
    `metadata`), their department's customers', their own customers', or none."""

    scope: Scope
    user_id: uuid.UUID | None = None
    department_id: uuid.UUID | None = None

    def where(self) -> ColumnElement[bool] | None:
        """The condition on the contract's customer; None for no restriction."""
        if self.scope in (Scope.ALL, Scope.METADATA):
            return None
        if self.scope is Scope.DEPARTMENT and self.department_id is not None:
            return Customer.department_id == self.department_id
        if self.scope is Scope.OWN and self.user_id is not None:
            return Customer.owner_id == self.user_id
        return Customer.id.is_(None)  # a loan and the like reach no ledger rows


@dataclass(frozen=True, slots=True)
class LedgerFilter:
    department: str | None = None  # department code
    year: int | None = None
    status: str | None = None


class ContractRow(NamedTuple):
    """A contract with the codes and name people read in the ledger."""

    contract: Contract
    department: str | None
    customer_code: str | None
    handler: str | None


class LateRow(NamedTuple):
    event: ContractEvent
    row: ContractRow
    due_on: date


_handler = aliased(User)


def _rows() -> Select[Contract, str, str, str]:
    return (select(Contract, Department.code, Customer.code, _handler.username)
            .join(Customer, Customer.id == Contract.customer_id)
            .join(Department, Department.id == Contract.department_id)
            .outerjoin(_handler, _handler.id == Contract.handler_id))


Q = TypeVar("Q", bound=Select[*tuple[Any, ...]])


def _scoped(query: Q, scope: ContractScope) -> Q:
    condition = scope.where()
    return query if condition is None else query.where(condition)


# A step is late when it is open past its due date: the hand-over, or once that is done, the archiving.
_OPEN_DUE = case((ContractEvent.handed_over_on.is_(None), ContractEvent.handover_due), else_=ContractEvent.archive_due)


def _late_on(today: date) -> ColumnElement[bool]:
    return or_(and_(ContractEvent.handed_over_on.is_(None), ContractEvent.handover_due < today),
               and_(ContractEvent.handed_over_on.is_not(None), ContractEvent.archived_on.is_(None),
                    ContractEvent.archive_due < today))


class ContractRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- numbers ---------------------------------------------------------------------------------

    def take_number(self, department_id: uuid.UUID, year: int) -> int:
        """Increment the department's counter for the year and return the new value, in one
        statement (an upsert). The row stays locked until the transaction ends, so concurrent
        creations queue on it; a rollback gives the number back."""
        insert = postgresql.insert if self.session.get_bind().dialect.name == "postgresql" else sqlite.insert
        statement = (insert(ContractCounter).values(department_id=department_id, year=year, last=1)
                     .on_conflict_do_update(index_elements=[ContractCounter.department_id, ContractCounter.year],
                                            set_={"last": ContractCounter.last + 1})
                     .returning(ContractCounter.last))
        return int(self.session.execute(statement).scalar_one())

    # -- rows ------------------------------------------------------------------------------------

    def add(self, item: Contract | ContractEvent) -> None:
        self.session.add(item)
        self.session.flush()

    def flush(self) -> None:
        self.session.flush()

    def get(self, contract_id: uuid.UUID) -> Contract | None:
        return self.session.get(Contract, contract_id)

    def event(self, event_id: uuid.UUID) -> ContractEvent | None:
        return self.session.get(ContractEvent, event_id)

    def customer_of(self, contract_id: uuid.UUID) -> uuid.UUID | None:
        """The customer a contract belongs to (the documents area asks this when filing)."""
        return self.session.scalar(select(Contract.customer_id).where(Contract.id == contract_id))

    def department(self, department_id: uuid.UUID) -> Department | None:
        return self.session.get(Department, department_id)

    def row(self, contract_id: uuid.UUID) -> ContractRow | None:
        found = self.session.execute(_rows().where(Contract.id == contract_id)).one_or_none()
        return None if found is None else ContractRow(*found)

    def events(self, contract_id: uuid.UUID) -> Sequence[ContractEvent]:
        return self.session.scalars(select(ContractEvent).where(ContractEvent.contract_id == contract_id)
                                    .order_by(ContractEvent.occurred_on, ContractEvent.created_at)).all()

    def last_event_on(self, contract_id: uuid.UUID) -> date | None:
        return self.session.scalar(select(func.max(ContractEvent.occurred_on))
                                   .where(ContractEvent.contract_id == contract_id))

    # -- the ledger ------------------------------------------------------------------------------

    def page(self, scope: ContractScope, filters: LedgerFilter, *, limit: int,
             before: tuple[str, int, int] | None = None) -> list[ContractRow]:
        """Contracts by number, highest first: department code, then year and sequence as numbers
        (so SALES-2026-10000 follows -9999); `before` is the last number shown, as its parts."""
        query = _scoped(_rows(), scope)
        if filters.department:
            query = query.where(Department.code == filters.department)
        if filters.year:
            query = query.where(Contract.year == filters.year)
        if filters.status:
            query = query.where(Contract.status == filters.status)
        if before is not None:
            query = query.where(tuple_(Department.code, Contract.year, Contract.seq) < tuple_(*before))
        query = query.order_by(Department.code.desc(), Contract.year.desc(), Contract.seq.desc()).limit(limit)
        return [ContractRow(*found) for found in self.session.execute(query).all()]

    # -- late steps ------------------------------------------------------------------------------

    def late(self, today: date) -> Sequence[ContractEvent]:
        """Every event with a step past its due date and not done (the worker flags them)."""
        return self.session.scalars(select(ContractEvent).where(_late_on(today))
                                    .order_by(_OPEN_DUE, ContractEvent.id)).all()

    def late_in_scope(self, today: date, scope: ContractScope, *, department: str | None, limit: int,
                      after: tuple[date, uuid.UUID] | None = None) -> tuple[list[LateRow], int]:
        """A page of the late steps the scope reaches, longest overdue first (then by event id),
        after the cursor `(due date, event id)`; and how many there are in all."""
        query = _scoped(_rows().add_columns(ContractEvent, _OPEN_DUE)
                        .join(ContractEvent, ContractEvent.contract_id == Contract.id)
                        .where(_late_on(today)), scope)
        if department:
            query = query.where(Department.code == department)
        count = self.session.scalar(select(func.count()).select_from(query.subquery()))
        if after is not None:
            query = query.where(tuple_(_OPEN_DUE, ContractEvent.id) > tuple_(*after))
        found = self.session.execute(query.order_by(_OPEN_DUE, ContractEvent.id).limit(limit)).all()
        return [LateRow(event, ContractRow(contract, dept, code, handler), due_on)
                for contract, dept, code, handler, event, due_on in found], int(count or 0)
