"""Queries on customers; scope filters are applied here, from what the gate decided."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Select, select
from sqlalchemy.orm import Session

from archive.customers.models import Customer
from archive.vocabulary import Scope

INACTIVE = ("suspended", "ended")  # they leave the active register (DOMAIN.md)


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


class CustomerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, customer_id: uuid.UUID) -> Customer | None:
        return self.session.get(Customer, customer_id)

    def add(self, customer: Customer) -> None:
        self.session.add(customer)
        self.session.flush()

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
