"""Shapes of the contract ledger's routes (API.md "contracts")."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EventKind = Literal["signed", "changed", "performed", "terminated"]


class ContractIn(BaseModel):
    customer_id: uuid.UUID
    title: str = Field(max_length=200, description="What the contract is about (no personal data).")
    signed_on: date | None = Field(None, description="Default: today (company time zone).")


class EventIn(BaseModel):
    kind: Literal["changed", "performed", "terminated"]
    occurred_on: date | None = Field(None, description="Default: today (company time zone).")


class StepIn(BaseModel):
    on: date | None = Field(None, description="Default: today (company time zone).")


class _View(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class EventOut(_View):
    id: uuid.UUID
    kind: EventKind
    occurred_on: date
    handover_due: date = Field(description="One month after the event: the dossier reaches the credit manager.")
    handed_over_on: date | None
    archive_due: date | None = Field(description="One month after the hand-over: the dossier reaches the archive.")
    archived_on: date | None
    late: bool = Field(description="The open step is past its due date.")


class DossierOut(_View):
    required: list[str] = Field(description="Document kinds the contract's dossier must hold "
                                            "(policies/contract_dossier.yaml).")
    present: list[str]
    missing: list[str]
    complete: bool


class ContractOut(_View):
    id: uuid.UUID
    number: str = Field(description="`<DEPT>-<year>-<NNNN>`, consecutive per department and year.")
    department: str | None = Field(description="Department code.")
    year: int
    customer_id: uuid.UUID
    customer_code: str | None
    title: str
    status: EventKind = Field(description="The latest event's kind.")
    handler: str | None = Field(description="Username of the contract's handler.")
    created_at: datetime


class ContractDetailOut(ContractOut):
    events: list[EventOut]
    dossier: DossierOut


class LateStepOut(ContractOut):
    event: EventOut
    step: Literal["handover", "archive"]
    due_on: date
    days_late: int


class ContractPage(_View):
    items: list[ContractOut]
    next_cursor: str | None = Field(description="Pass as `?cursor=` for the next page; null at the end.")


class OverduePage(_View):
    items: list[LateStepOut]
    count: int = Field(description="Late steps in your scope in all, on every page.")
    next_cursor: str | None = Field(description="Pass as `?cursor=` for the next page; null at the end.")
