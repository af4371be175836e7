"""Registering customers: profile in clear, each sensitive field sealed with the customer's
data key (AAD: table, column, row, customer), blind indexes for exact search."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import NamedTuple, Protocol

from archive.customers.intake import company_key
from archive.customers.models import INDEXED_FIELDS, SEALED_FIELDS, Customer, CustomerCorrection
from archive.customers.repository import CustomerRepository
from archive.db import new_id, utcnow
from archive.errors import FieldError, InvalidInput
from crypto.blind_index import BlindIndex, IndexKind
from crypto.envelope import FieldCipher, FieldContext

PUBLIC_NAME_KINDS = ("enterprise", "institution")
# Public profile fields a correction may change; the rest of the profile has its own steps.
CORRECTABLE_PROFILE = ("industry", "region", "size_class", "verification_status", "risk_level")
# Identity verification and risk assessment (002 客户识别流程: 身份验证, 风险评估): set like any
# other field, by a purpose that shows it in clear (the risk level is credit data).
CHOICES = {
    "size_class": ("large", "medium", "small"),
    "verification_status": ("unverified", "verified", "failed"),
    "risk_level": ("unassessed", "low", "medium", "high"),
}
_CT = {f: f"{f}_ct" for f in SEALED_FIELDS}
_BIDX = {f: f"{f}_bidx" for f in INDEXED_FIELDS}
OWN_STEPS = {
    "owner": "owner assignment", "department": "owner assignment", "status": "the lifecycle step",
    "grade": "grading", "code": "nothing (the code is permanent)", "kind": "nothing (register anew)",
    "id": "nothing", "version": "the If-Match header",
}


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


def check_correction(changes: Mapping[str, object]) -> dict[str, str | None]:
    """Field names and value types of a correction; anything else is a 422 naming the field."""
    errors = []
    clean: dict[str, str | None] = {}
    for field, value in changes.items():
        if field in OWN_STEPS:
            errors.append(FieldError(field, f"not changed by a correction; use {OWN_STEPS[field]}"))
        elif field not in SEALED_FIELDS and field not in CORRECTABLE_PROFILE:
            errors.append(FieldError(field, "not a customer field"))
        elif value is not None and not isinstance(value, str | int | float):
            errors.append(FieldError(field, "a text value or null"))
        elif field in CHOICES and str(value).strip() not in CHOICES[field]:
            errors.append(FieldError(field, f"one of {', '.join(CHOICES[field])}"))
        else:
            clean[field] = None if value is None else str(value).strip() or None
    if not changes:
        errors.append(FieldError("body", "name at least one field to correct"))
    if errors:
        raise InvalidInput("The correction cannot be applied.", errors=errors)
    return clean


class Indexer(Protocol):
    def compute(self, kind: IndexKind, value: str) -> bytes: ...


def seal_columns(cipher: FieldCipher, index: Indexer, customer_id: uuid.UUID, kind: str,
                 sensitive: Mapping[str, str | None], indexes: Mapping[str, list[str]] | None = None, *,
                 name_key: str | None = None) -> dict[str, object]:
    """Column values for a customer's sensitive fields: each sealed on its own (AAD binds
    table, column, row and customer), blind indexes for the searchable ones, and the public name
    of an enterprise or institution in clear (compared by its `name_key`, so it needs no blind
    index). `indexes` and `name_key` pass values the caller computed already."""
    sealed = cipher.encrypt_row("customers", customer_id, customer_id,
                                {f: v.encode() for f, v in sensitive.items() if v is not None})
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


def sealed_column_names(fields: Sequence[str]) -> list[str]:
    """The columns holding these fields sealed, for `indexed_columns_many`."""
    return [_CT[f] for f in fields]


def indexed_columns_many(kinds: Sequence[str], names: Sequence[str], name_keys: Sequence[str | None],
                         sealed_columns: Sequence[str], sealed: Sequence[Sequence[bytes | None]],
                         indexes: Sequence[Mapping[str, list[str]]]) -> dict[str, list[object]]:
    """`columns_of` for rows sealed a part of a file at a time (archive/customers/rowwork), a
    column at a time: each column's value per row, None where a row has none; a column no row
    has is left out. `sealed` holds a value or None per column of `sealed_columns`
    (`sealed_column_names`) for each row, and every value that has a blind index has it in the
    row's `indexes` already (an import refuses a row whose value cannot be indexed). Row by
    row, the values that are not None are what `columns_of` gives (tests/archive/
    test_customer_columns.py checks), without its per-field lookups or a dict per row."""
    columns: dict[str, list[object]] = {}
    if not kinds:
        return columns
    for column, values in zip(sealed_columns, zip(*sealed, strict=True), strict=True):
        if values.count(None) != len(values):
            columns[column] = list(values)
    public = [kind in PUBLIC_NAME_KINDS for kind in kinds]
    if any(public):
        columns["public_name"] = [name if p else None for p, name in zip(public, names, strict=True)]
        columns["name_key"] = [(key or company_key(name)) if p else None
                               for p, name, key in zip(public, names, name_keys, strict=True)]
    for field in INDEXED_FIELDS:
        found: list[object] = [hexes[0] if (hexes := held.get(field)) else None for held in indexes]
        if found.count(None) != len(found):
            columns[_BIDX[field]] = found
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
