"""Queries of break-glass; nothing else reads or writes the table."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Uuid, column, select, table
from sqlalchemy.orm import Session

from archive.breakglass.models import BreakGlass
from archive.db import utcnow

# The table a break-glass row's foreign key names, as that key does: by name (the customers area
# reads break-glass facts; importing its models back would tie the two packages in a cycle).
_CUSTOMERS = table("customers", column("id", Uuid(as_uuid=True)))


class BreakGlassRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def get(self, break_glass_id: uuid.UUID) -> BreakGlass | None:
        return self.session.get(BreakGlass, break_glass_id)

    def add(self, row: BreakGlass) -> BreakGlass:
        self.session.add(row)
        self.session.flush()
        return row

    def open_for(self, user_id: uuid.UUID, customer_id: uuid.UUID, now: datetime | None = None) -> BreakGlass | None:
        """The user's open, unexpired break-glass on this customer, if any."""
        return self.session.scalars(
            select(BreakGlass).where(BreakGlass.opened_by == user_id, BreakGlass.customer_id == customer_id,
                                     BreakGlass.closed_at.is_(None), BreakGlass.expires_at > (now or utcnow()))
            .order_by(BreakGlass.expires_at.desc()).limit(1)
        ).first()

    def is_open(self, user_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
        """Whether the user has an open, unexpired break-glass on the customer: the fact a service
        hands the gate (`archive.gate.BreakGlassLookup`), which never reads this table itself."""
        return self.open_for(user_id, customer_id) is not None

    def unreviewed(self, limit: int) -> Sequence[BreakGlass]:
        """Oldest first; open ones too (they are visible for review early)."""
        return self.session.scalars(select(BreakGlass).where(BreakGlass.reviewed_at.is_(None))
                                    .order_by(BreakGlass.opened_at).limit(limit)).all()

    def customer_exists(self, customer_id: uuid.UUID) -> bool:
        return self.session.scalar(select(_CUSTOMERS.c.id).where(_CUSTOMERS.c.id == customer_id)) is not None
