"""Queries on customers; scope filters are applied here, from what the gate decided."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.customers.models import Customer
from archive.vocabulary import Scope


class CustomerRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, customer_id: uuid.UUID) -> Customer | None:
        return self.session.get(Customer, customer_id)

    def add(self, customer: Customer) -> None:
        self.session.add(customer)
        self.session.flush()

    def list_in_scope(self, scope: Scope, *, user_id: uuid.UUID, department_id: uuid.UUID | None,
                      limit: int, after: uuid.UUID | None = None) -> Sequence[Customer]:
        query = select(Customer).order_by(Customer.id).limit(limit)
        if scope is Scope.OWN:
            query = query.where(Customer.owner_id == user_id)
        elif scope is Scope.DEPARTMENT:
            query = query.where(Customer.department_id == department_id)
        elif scope not in (Scope.ALL, Scope.METADATA):
            return []
        if after is not None:
            query = query.where(Customer.id > after)
        return self.session.scalars(query).all()
