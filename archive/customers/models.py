"""Customers. Public profile data in clear; every sensitive field sealed on its own (AES-GCM
with AAD binding table, column, row and customer: crypto/envelope), plus blind indexes
(`<field>_bidx`, "v<key version>:<hex>") for exact search. Columns holding ciphertext are
`Sealed`: they box bytes and never decrypt on load — only the gate opens them."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ForeignKey, Index, Integer, LargeBinary, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from archive.db import Base, IdMixin, TimestampMixin, utcnow

# Field name → column holding its ciphertext. The names are policies/fields.yaml's.
SEALED_FIELDS = (
    "name", "phone", "email", "address", "contact_persons", "id_number", "tax_number",
    "bank_accounts", "annual_volume", "payment_habits", "receivables", "cooperation_since",
    "credit_rating", "credit_level", "credit_limit", "financial_statements", "collection_records",
    "savings", "wealth_products", "fund_holdings", "bond_holdings", "insurance_balances", "insurance_policies",
)
INDEXED_FIELDS = ("name", "phone", "email", "id_number", "tax_number")

KINDS = ("individual", "enterprise", "institution")
# Enterprise and institution names are public registry data: kept in clear (`public_name`) too.
PUBLIC_NAME_KINDS = ("enterprise", "institution")
STATUSES = ("potential", "target", "active", "stagnant", "suspended", "ended")
# Allowed lifecycle moves (DOMAIN.md): forward through the register, out to suspended/ended,
# and a suspended relationship may revive.
TRANSITIONS = {
    "potential": {"target", "suspended", "ended"},
    "target": {"active", "potential", "suspended", "ended"},
    "active": {"stagnant", "suspended", "ended"},
    "stagnant": {"active", "suspended", "ended"},
    "suspended": {"active", "target", "ended"},
    "ended": set(),
}


class Customer(IdMixin, TimestampMixin, Base):
    __tablename__ = "customers"

    code: Mapped[str] = mapped_column(String(32), unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    # Enterprise and institution names are public registry data, kept in clear for fuzzy
    # duplicate checks; an individual's name is only sealed (name_ct) and indexed.
    public_name: Mapped[str | None] = mapped_column(String(300))
    name_key: Mapped[str | None] = mapped_column(String(300))  # normalised public name, for the fuzzy check
    status: Mapped[str] = mapped_column(String(16), default="potential")
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"), index=True)
    owner_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"), index=True)
    grade: Mapped[str | None] = mapped_column(String(8))
    industry: Mapped[str | None] = mapped_column(String(100))
    region: Mapped[str | None] = mapped_column(String(100))
    size_class: Mapped[str | None] = mapped_column(String(16))
    verification_status: Mapped[str] = mapped_column(String(16), default="unverified")
    risk_level: Mapped[str] = mapped_column(String(16), default="unassessed")
    version: Mapped[int] = mapped_column(Integer, default=1)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))

    name_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    phone_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    email_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    address_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    contact_persons_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    id_number_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    tax_number_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    bank_accounts_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    annual_volume_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    payment_habits_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    receivables_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    cooperation_since_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    credit_rating_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    credit_level_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    credit_limit_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    financial_statements_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    collection_records_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    savings_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    wealth_products_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    fund_holdings_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    bond_holdings_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    insurance_balances_ct: Mapped[bytes | None] = mapped_column(LargeBinary)
    insurance_policies_ct: Mapped[bytes | None] = mapped_column(LargeBinary)

    name_bidx: Mapped[str | None] = mapped_column(String(80))
    phone_bidx: Mapped[str | None] = mapped_column(String(80))
    email_bidx: Mapped[str | None] = mapped_column(String(80))
    id_number_bidx: Mapped[str | None] = mapped_column(String(80))
    tax_number_bidx: Mapped[str | None] = mapped_column(String(80))
    # Blind index of the last imported row's canonical text: a re-import of the same row is
    # recognised as "nothing changed" without decrypting anything.
    record_bidx: Mapped[str | None] = mapped_column(String(80))

    __mapper_args__ = {"version_id_col": version}  # noqa: RUF012  (optimistic concurrency)
    # Blind indexes are searched only for a value, never for NULL: partial indexes leave out the
    # many rows without one (no tax number, a company's name compared in clear), which a bulk
    # import then does not pay for.
    __table_args__ = tuple(
        Index(f"ix_customers_{field}_bidx", f"{field}_bidx", sqlite_where=text(f"{field}_bidx IS NOT NULL"),
              postgresql_where=text(f"{field}_bidx IS NOT NULL"))
        for field in INDEXED_FIELDS)


class CustomerStatusChange(IdMixin, Base):
    """Lifecycle history: every change has a reason, who made it and when."""

    __tablename__ = "customer_status_changes"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    from_status: Mapped[str | None] = mapped_column(String(16))
    to_status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str] = mapped_column(Text)
    changed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerCorrection(IdMixin, Base):
    """One corrected field: who, when, why, and the previous value still sealed (the ciphertext
    as it stood, bound to the customer row), so history never holds plaintext."""

    __tablename__ = "customer_corrections"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    field: Mapped[str] = mapped_column(String(64))
    previous_ct: Mapped[bytes | None] = mapped_column(LargeBinary)  # sealed fields
    previous_clear: Mapped[str | None] = mapped_column(String(300))  # public profile fields
    version: Mapped[int] = mapped_column(Integer)  # the record's version after the change
    reason: Mapped[str] = mapped_column(Text)
    purpose: Mapped[str] = mapped_column(String(64))
    changed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    changed_at: Mapped[datetime] = mapped_column(default=utcnow)


class CustomerReviewFlag(IdMixin, TimestampMixin, Base):
    """A possible duplicate for a person to look at (same phone, near-identical name): the
    record was kept, the doubt is on file until someone resolves it."""

    __tablename__ = "customer_review_flags"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    other_customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"))
    reason: Mapped[str] = mapped_column(String(32))  # same_phone | similar_name
    score: Mapped[int | None] = mapped_column(Integer)  # name similarity, 0–100
    resolved_at: Mapped[datetime | None]
    resolved_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(16))  # distinct | duplicate
    note: Mapped[str | None] = mapped_column(Text)
