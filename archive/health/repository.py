"""Queries of the readiness probe: one scratch row per check, the table kept to a few rows."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import delete, or_, select
from sqlalchemy.orm import Session

from archive.health.models import ReadinessProbe

FORGET_AFTER = timedelta(hours=1)  # rows of a process not seen for this long (it is gone)


class ProbeRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def write(self, process: str, now: datetime) -> uuid.UUID:
        """A new row for this check; the process's earlier rows and stale ones of others go."""
        row = ReadinessProbe(process=process, checked_at=now)
        self.session.add(row)
        self.session.flush()
        self.session.execute(delete(ReadinessProbe).where(
            ReadinessProbe.id != row.id,
            or_(ReadinessProbe.process == process, ReadinessProbe.checked_at < now - FORGET_AFTER)))
        return row.id

    def checked_at(self, probe_id: uuid.UUID) -> datetime | None:
        return self.session.scalar(select(ReadinessProbe.checked_at).where(ReadinessProbe.id == probe_id))
