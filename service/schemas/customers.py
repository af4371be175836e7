"""Shapes of the customer routes (API.md "Shapes"): a customer with every field decrypted,
masked or null as the purpose decides; lists as pages; intake, search, lifecycle and import."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from service.schemas.common import Page

Shown = str | None  # a field as the purpose shows it: in clear, masked, or null (omitted)


class CustomerOut(BaseModel):
    """A customer as the stated purpose shows it: every sensitive field decrypted, masked or
    null (omitted: never decrypted)."""

    id: uuid.UUID
    code: str = Field(description="`C-…`, permanent.")
    name: Shown = None
    kind: str = Field(description="individual, enterprise or institution")
    status: str = Field(description="potential, target, active, stagnant, suspended or ended")
    department: Shown = Field(None, description="Department code.")
    owner: Shown = Field(None, description="Username of the owning staff member; null: nobody.")
    grade: Shown = None
    version: int = Field(description="The record's version; also its ETag.")
    id_number: Shown = None
    tax_number: Shown = None
    phone: Shown = None
    email: Shown = None
    address: Shown = None
    contact_persons: Shown = None
    industry: Shown = None
    region: Shown = None
    size_class: Shown = None
    verification_status: Shown = None
    risk_level: Shown = None
    bank_accounts: Shown = None
    annual_volume: Shown = None
    payment_habits: Shown = None
    receivables: Shown = None
    cooperation_since: Shown = None
    credit_rating: Shown = None
    credit_level: Shown = None
    credit_limit: Shown = None
    financial_statements: Shown = None
    collection_records: Shown = None
    savings: Shown = None
    wealth_products: Shown = None
    fund_holdings: Shown = None
    bond_holdings: Shown = None
    insurance_balances: Shown = None
    insurance_policies: Shown = None


class FlaggedMatch(BaseModel):
    """A possible duplicate: the other customer is named only if you may see it."""

    reason: str = Field(description="same_phone or similar_name")
    customer_id: uuid.UUID | None
    code: str | None
    score: int | None = Field(description="Name similarity 0–100 (100 for the same phone).")


class CustomerCreatedOut(CustomerOut):
    review_flags: list[FlaggedMatch] = Field(description="Same phone or near-identical name: kept, to be reviewed.")


class CustomerSearchOut(Page[CustomerOut]):
    outside_scope: int | None = Field(None, description="Matches outside your scope (staff who could borrow).")
    detail: str | None = Field(None, description="Where to ask for those (the loan form).")


class ReviewFlagOut(BaseModel):
    id: uuid.UUID
    reason: str
    score: int | None
    created_at: datetime
    customer_id: uuid.UUID
    code: str
    other: FlaggedMatch
    outcome: str | None
    note: str | None
    resolved_at: datetime | None
    resolved_by: str | None


class ResolvedFlagOut(BaseModel):
    id: uuid.UUID
    outcome: str
    customer_id: uuid.UUID
    code: str


class StatusChangeOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)
    from_: str | None = Field(alias="from")
    to: str
    reason: str
    by: str | None
    at: datetime


class ChangeOut(BaseModel):
    field: str
    reason: str
    purpose: str
    version: int
    by: str | None
    at: datetime


class HistoryOut(BaseModel):
    """Who changed what, when and why: field names and reasons, never values."""

    id: uuid.UUID
    code: str
    status: str
    status_changes: list[StatusChangeOut]
    changes: list[ChangeOut]


class ImportOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)
    rows: int
    created: int
    updated: int
    unchanged: int
    flagged: int = Field(description="Created but waiting for review (same phone, similar name).")
    dry_run: bool


# --- requests ------------------------------------------------------------------------------------


class CustomerIn(BaseModel):
    """The customer information record (客户资料卡). Sensitive fields are encrypted on arrival."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="individual, enterprise or institution")
    name: str = Field(max_length=200)
    code: str | None = Field(None, max_length=32, description="C-…; generated when absent")
    department: str | None = Field(None, description="Department code; default: yours")
    owner: str | None = Field(None, description="Username of the owning rep; default: you")
    status: str = "potential"
    industry: str | None = None
    region: str | None = None
    size_class: str | None = None
    id_number: str | None = None
    tax_number: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    annual_volume: str | None = None
    credit_rating: str | None = None
    cooperation_since: str | None = None


class SearchIn(BaseModel):
    """Exactly one identifier; it travels in the body, never in a URL."""

    model_config = ConfigDict(extra="forbid")
    id_number: str | None = Field(None, max_length=64, description="ID card, business licence or tax number.")
    phone: str | None = Field(None, max_length=64)
    email: str | None = Field(None, max_length=254)

    def _given(self) -> dict[str, str]:
        return {name: value for name, value in (("id_number", self.id_number), ("phone", self.phone),
                                                ("email", self.email)) if value}

    @model_validator(mode="after")
    def _exactly_one(self) -> SearchIn:
        if len(self._given()) != 1:
            raise ValueError("give exactly one of id_number, phone, email")
        return self

    @property
    def field(self) -> tuple[str, str]:
        """(field, value) of the one identifier given."""
        return next(iter(self._given().items()))


class StatusIn(BaseModel):
    status: str = Field(description="potential, target, active, stagnant, suspended or ended")
    reason: str = Field(max_length=2000)


class OwnerIn(BaseModel):
    owner: str | None = Field(description="Username of a staff member of the customer's department; null: nobody")
    reason: str = Field(max_length=2000)


class ResolveIn(BaseModel):
    outcome: Literal["distinct", "duplicate"]
    note: str = Field("", max_length=2000)
