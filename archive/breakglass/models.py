"""An emergency access to all categories of one customer: opened by a compliance officer with a
written justification, expiring, flagged on every read, reviewed afterwards by someone else."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.db import Base, IdMixin, utcnow


class ReviewOutcome(StrEnum):
    JUSTIFIED = "justified"
    UNJUSTIFIED = "unjustified"


class BreakGlass(IdMixin, Base):
    __tablename__ = "break_glass"

    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    opened_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id"), index=True)
    # The officer's own words on why; about the access, not customer data (never in the log).
    justification: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    closed_at: Mapped[datetime | None]  # closed early by the officer
    reviewed_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    reviewed_at: Mapped[datetime | None]
    review_outcome: Mapped[str | None] = mapped_column(String(16))  # justified | unjustified
    review_note: Mapped[str | None] = mapped_column(Text)

    def active(self, now: datetime) -> bool:
        return self.closed_at is None and self.expires_at > now

