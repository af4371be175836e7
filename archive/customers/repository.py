"""Queries on customers and their histories; scope filters are applied here, from what the gate
decided. Nothing here commits: the unit of work does."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from archive.bulk import one_of
from archive.customers.models import Customer, CustomerCorrection, CustomerReviewFlag, CustomerStatusChange
from archive.vocabulary import Scope

INACTIVE = ("suspended", "ended")  # they leave the active register (DOMAIN.md)
SEARCH_LIMIT = 100
_CUSTOMERS = Customer.__table__
# The blind-index columns an exact search by each field compares (a tax number is searched as
# an ID number: one search finds either).
_SEARCHED = {"id_number": ("id_number_bidx", "tax_number_bidx"), "phone": ("phone_bidx",),
             "email": ("email_bidx",), "name": ("name_bidx",)}
REGISTER_FIELDS = ("id_number", "tax_number", "phone", "name")


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    """List filters on public profile columns only (sensitive fields are found by exact search)."""

    register: str = "active"  # active | inactive | all
    status: str | None = None
    kind: str | None = None
    department_id: uuid.UUID | None = None
    owner_id: uuid.UUID | None = None
    unowned: bool = False
    region: str | None = None
    industry: str | None = None

    def apply(self, query: Select[Customer]) -> Select[Customer]:
        if self.register == "active":
            query = query.where(Customer.status.not_in(INACTIVE))
        elif self.register == "inactive":
            query = query.where(Customer.status.in_(INACTIVE))
        for column, value in ((Customer.status, self.status), (Customer.kind, self.kind),
                              (Customer.department_id, self.department_id), (Customer.owner_id, self.owner_id),
                              (Customer.region, self.region), (Customer.industry, self.industry)):
            if value is not None:
                query = query.where(column == value)
        if self.unowned:
            query = query.where(Customer.owner_id.is_(None))
        return query


class Registered(NamedTuple):
    """A registered customer's blind indexes, as the duplicate check compares them."""

    id: uuid.UUID
    code: str
    id_number: str | None
    tax_number: str | None
    phone: str | None
    name: str | None


class CustomerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- customers -------------------------------------------------------------------------------

    def get(self, customer_id: uuid.UUID) -> Customer | None:
        return self.session.get(Customer, customer_id)

    def add(self, customer: Customer) -> None:
        self.session.add(customer)
        self.session.flush()

    def code_taken(self, code: str) -> bool:
        return self.session.scalar(select(Customer.id).where(Customer.code == code)) is not None

    def code_of(self, customer_id: uuid.UUID) -> str:
        return self.session.scalar(select(Customer.code).where(Customer.id == customer_id)) or ""

    def list_in_scope(self, scope: Scope, *, user_id: uuid.UUID, department_id: uuid.UUID | None,
                      limit: int, after: uuid.UUID | None = None,
                      filters: CustomerFilter | None = None) -> Sequence[Customer]:
        query = select(Customer).order_by(Customer.id).limit(limit)
        query = (filters or CustomerFilter()).apply(query)
        if scope is Scope.OWN:
            query = query.where(Customer.owner_id == user_id)
        elif scope is Scope.DEPARTMENT:
            query = query.where(Customer.department_id == department_id)
        elif scope not in (Scope.ALL, Scope.METADATA):
            return []
        if after is not None:
            query = query.where(Customer.id > after)
        return self.session.scalars(query).all()

    def find_by_index(self, field: str, candidates: Sequence[str], *, limit: int = SEARCH_LIMIT) -> Sequence[Customer]:
        """Customers whose blind index of `field` is one of `candidates` (hex, any key version)."""
        if not candidates:
            return []
        columns = [getattr(Customer, column) for column in _SEARCHED[field]]
        return self.session.scalars(select(Customer).where(or_(*(c.in_(candidates) for c in columns)))
                                    .order_by(Customer.id).limit(limit)).all()

    # -- what the duplicate check compares ---------------------------------------------------------

    def registered_with(self, wanted: Mapping[str, Iterable[str]]) -> list[Registered]:
        """Registered customers holding any of the wanted blind-index values (field -> hexes,
        fields of `REGISTER_FIELDS`), in one query built once per dialect."""
        connection = self.session.connection()  # Core: no ORM compile state for a query run per part
        return [Registered(*row) for row in connection.execute(
            _register_query(connection.dialect.name), {f: list(wanted.get(f, ())) for f in REGISTER_FIELDS})]

    def company_names(self) -> list[tuple[uuid.UUID, str, str]]:
        """(id, code, name key) of every customer whose name is public (compared fuzzily)."""
        table = _CUSTOMERS.c
        rows = self.session.connection().execute(
            select(table.id, table.code, table.name_key).where(table.name_key.is_not(None)))
        return [(r.id, r.code, r.name_key) for r in rows]

    # -- histories and review flags ----------------------------------------------------------------

    def add_history(self, entry: CustomerStatusChange | CustomerCorrection | CustomerReviewFlag) -> None:
        self.session.add(entry)
        self.session.flush()

    def status_changes(self, customer_id: uuid.UUID) -> Sequence[CustomerStatusChange]:
        return self.session.scalars(select(CustomerStatusChange).where(CustomerStatusChange.customer_id == customer_id)
                                    .order_by(CustomerStatusChange.changed_at)).all()

    def corrections(self, customer_id: uuid.UUID) -> Sequence[CustomerCorrection]:
        return self.session.scalars(select(CustomerCorrection).where(CustomerCorrection.customer_id == customer_id)
                                    .order_by(CustomerCorrection.changed_at)).all()

    def review_flag(self, flag_id: uuid.UUID) -> CustomerReviewFlag | None:
        return self.session.get(CustomerReviewFlag, flag_id)

    def review_flags(self, *, resolved: bool, limit: int) -> list[tuple[CustomerReviewFlag, Customer]]:
        """Flags (resolved or open), oldest first, with the customer each is on."""
        query = (select(CustomerReviewFlag, Customer).join(Customer, Customer.id == CustomerReviewFlag.customer_id)
                 .where(CustomerReviewFlag.resolved_at.is_not(None) if resolved
                        else CustomerReviewFlag.resolved_at.is_(None))
                 .order_by(CustomerReviewFlag.created_at).limit(limit))
        return [(flag, customer) for flag, customer in self.session.execute(query)]


@functools.cache
def _register_query(dialect: str) -> Select[Any]:
    """The register's customers holding any of the index values given as the parameters named
    after the fields (`REGISTER_FIELDS`): built once, run for every part of a file."""
    table = _CUSTOMERS.c
    return select(table.id, table.code, table.id_number_bidx, table.tax_number_bidx, table.phone_bidx,
                  table.name_bidx).where(or_(*(one_of(table[f"{field}_bidx"], None, dialect, name=field)
                                               for field in REGISTER_FIELDS)))
