"""Registering customers — the steps the intake form and the import share: a new customer's
values (`NewCustomer`), each sensitive field sealed with the customer's data key (AAD: table,
column, row, customer), blind indexes for exact search, the public name of a company in clear;
and corrections, each leaving its history row."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import NamedTuple, Protocol

from archive.customers.intake import company_key
from archive.customers.models import (
    INDEXED_FIELDS,
    PUBLIC_NAME_KINDS,
    SEALED_FIELDS,
    Customer,
    CustomerCorrection,
)
from archive.customers.repository import CustomerRepository
from archive.db import new_id, utcnow
from archive.errors import FieldError, InvalidInput
from crypto.blind_index import BlindIndex, IndexKind
from crypto.envelope import FieldCipher, FieldContext

# Public profile fields a correction may change; the rest of the profile has its own steps.
CORRECTABLE_PROFILE = ("industry", "region", "size_class", "verification_status", "risk_level")
_CT = {f: f"{f}_ct" for f in SEALED_FIELDS}
_BIDX = {f: f"{f}_bidx" for f in INDEXED_FIELDS}
_NOTHING: Mapping[str, str | None] = MappingProxyType({})


class NewCustomer(NamedTuple):
    """A customer as the intake form or an import row gives it (plaintext, in memory only).
    Immutable; a named tuple rather than a frozen dataclass because an import makes one per
    row, at under half the cost."""

    kind: str
    name: str
    code: str | None = None
    department: str | None = None  # department code; default: the caller's
    owner: str | None = None  # username; default: the caller
    status: str = "potential"
    profile: Mapping[str, str | None] = _NOTHING  # industry, region, size_class
    sensitive: Mapping[str, str | None] = _NOTHING  # sealed fields except name


def index_kind(field: str) -> IndexKind:
    """Tax numbers share the ID-number index so one search finds either."""
    return IndexKind.ID_NUMBER if field == "tax_number" else IndexKind(field)


class Indexer(Protocol):
    def compute(self, kind: IndexKind, value: str) -> bytes: ...


def seal_columns(cipher: FieldCipher, index: Indexer, customer_id: uuid.UUID, kind: str,
                 sensitive: Mapping[str, str | None], indexes: Mapping[str, list[str]] | None = None, *,
                 name_key: str | None = None) -> dict[str, object]:
    """Column values for a customer's sensitive fields: each sealed on its own (AAD binds
    table, column, row and customer), blind indexes for the searchable ones, and the public name
    of an enterprise or institution in clear (compared by its `name_key`, so it needs no blind
    index). `indexes` and `name_key` pass values the caller computed already."""
    sealed = {f: cipher.encrypt(FieldContext("customers", f, customer_id, customer_id), v.encode())
              for f, v in sensitive.items() if v is not None}
    return columns_of(index, kind, sensitive, sealed, indexes, name_key=name_key)


def columns_of(index: Indexer, kind: str, sensitive: Mapping[str, str | None], sealed: Mapping[str, bytes | None],
               indexes: Mapping[str, list[str]] | None = None, *, name_key: str | None = None) -> dict[str, object]:
    """`seal_columns` once the values are sealed (`sealed`: field -> sealed value, or None for
    a field without one)."""
    columns: dict[str, object] = {_CT[f]: value for f, value in sealed.items() if value is not None}
    public = kind in PUBLIC_NAME_KINDS
    name = sensitive.get("name")
    if public and name:
        columns["public_name"], columns["name_key"] = name, name_key or company_key(name)
    for field in INDEXED_FIELDS:
        value = sensitive.get(field)
        if value is None or (public and field == "name"):
            continue
        known = indexes.get(field) if indexes is not None else None
        columns[_BIDX[field]] = known[0] if known else index.compute(index_kind(field), value).hex()
    return columns


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
        for column, value in self.sealed_columns(customer.id, kind, sensitive).items():
            setattr(customer, column, value)
        self.repo.add(customer)
        return customer

    def sealed_columns(self, customer_id: uuid.UUID, kind: str, sensitive: Mapping[str, str | None],
                       indexes: Mapping[str, list[str]] | None = None, *,
                       name_key: str | None = None) -> dict[str, object]:
        return seal_columns(self.cipher, self.index, customer_id, kind, sensitive, indexes, name_key=name_key)

    def correct(self, customer: Customer, changes: Mapping[str, str | None], *, reason: str, purpose: str,
                changed_by: uuid.UUID | None) -> list[str]:
        """Apply checked changes (`check_correction`); each changed field leaves a history row
        with its previous value still sealed. Returns the names of the fields that changed."""
        changed = []
        for field, value in changes.items():
            if field in CORRECTABLE_PROFILE:
                previous = getattr(customer, field)
                if previous == value:
                    continue
                setattr(customer, field, value)
                history = CustomerCorrection(field=field, previous_clear=previous)
            else:
                history = CustomerCorrection(field=field, previous_ct=getattr(customer, f"{field}_ct"))
                ctx = FieldContext("customers", field, customer.id, customer.id)
                setattr(customer, f"{field}_ct", None if value is None else self.cipher.encrypt(ctx, value.encode()))
                if field in INDEXED_FIELDS:
                    public_name = field == "name" and customer.kind in PUBLIC_NAME_KINDS  # compared in clear
                    index = None if value is None or public_name else self.index.compute(index_kind(field), value).hex()
                    setattr(customer, f"{field}_bidx", index)
                if field == "name" and customer.kind in PUBLIC_NAME_KINDS:
                    customer.public_name = value
                    customer.name_key = None if value is None else company_key(value)
            history.customer_id, history.reason, history.purpose = customer.id, reason, purpose
            history.changed_by, history.changed_at = changed_by, utcnow()
            changed.append((field, history))
        if changed:
            customer.updated_at = utcnow()
            self.repo.session.flush()  # bumps the version (optimistic concurrency)
            for _, history in changed:
                history.version = customer.version
                self.repo.session.add(history)
            self.repo.session.flush()
        return [field for field, _ in changed]
