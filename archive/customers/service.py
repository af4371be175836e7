"""Registering customers: profile in clear, each sensitive field sealed with the customer's
data key (AAD: table, column, row, customer), blind indexes for exact search."""

from __future__ import annotations

import uuid
from collections.abc import Mapping

from archive.customers.models import INDEXED_FIELDS, SEALED_FIELDS, Customer
from archive.customers.repository import CustomerRepository
from archive.db import new_id
from archive.errors import FieldError, InvalidInput
from crypto.blind_index import BlindIndex, IndexKind
from crypto.envelope import FieldCipher, FieldContext

PUBLIC_NAME_KINDS = ("enterprise", "institution")


class CustomerRegistry:
    def __init__(self, repo: CustomerRepository, cipher: FieldCipher, index: BlindIndex) -> None:
        self.repo = repo
        self.cipher = cipher
        self.index = index

    def register(self, *, code: str, kind: str, department_id: uuid.UUID, owner_id: uuid.UUID | None,
                 status: str = "potential", profile: Mapping[str, str | None] | None = None,
                 sensitive: Mapping[str, str | None] | None = None,
                 created_by: uuid.UUID | None = None, customer_id: uuid.UUID | None = None) -> Customer:
        sensitive = dict(sensitive or {})
        unknown = set(sensitive) - set(SEALED_FIELDS)
        if unknown:
            raise InvalidInput("Unknown field(s).", errors=[FieldError(f, "not a customer field") for f in unknown])
        customer = Customer(id=customer_id or new_id(), code=code, kind=kind, department_id=department_id,
                            owner_id=owner_id, status=status, created_by=created_by, **dict(profile or {}))
        name = sensitive.get("name")
        if kind in PUBLIC_NAME_KINDS and name:
            customer.public_name = name
            customer.name_key = "".join(name.split()).casefold()
        for field, value in sensitive.items():
            if value is None:
                continue
            ctx = FieldContext("customers", field, customer.id, customer.id)
            setattr(customer, f"{field}_ct", self.cipher.encrypt(ctx, value.encode()))
            if field in INDEXED_FIELDS:
                setattr(customer, f"{field}_bidx", self.index.compute(IndexKind(field if field != "tax_number"
                                                                               else "id_number"), value).hex())
        self.repo.add(customer)
        return customer
