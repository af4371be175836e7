"""Shapes of the break-glass routes."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from archive.breakglass.models import ReviewOutcome
from archive.breakglass.service import DEFAULT_MINUTES, MAX_MINUTES


class BreakGlassIn(BaseModel):
    customer_id: uuid.UUID
    justification: str = Field(max_length=4000, description="Why emergency access is needed; the reviewer reads it.")
    minutes: int = Field(DEFAULT_MINUTES, description=f"How long it stays open (1–{MAX_MINUTES}).")


class ReviewIn(BaseModel):
    outcome: ReviewOutcome
    note: str = Field("", max_length=4000)


class BreakGlassOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    opened_by: uuid.UUID
    justification: str
    opened_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    active: bool = Field(description="Open and not yet expired: reads of this customer are admitted now.")
    reviewed_by: uuid.UUID | None
    reviewed_at: datetime | None
    review_outcome: ReviewOutcome | None
    review_note: str | None
