"""One row per job run: the unique (job, tick) pair makes every job idempotent per tick even
if two schedulers ever overlapped."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from archive.db import Base, IdMixin, utcnow


class JobRun(IdMixin, Base):
    __tablename__ = "job_runs"
    __table_args__ = (UniqueConstraint("job", "tick"),)

    job: Mapped[str] = mapped_column(String(64))
    tick: Mapped[str] = mapped_column(String(64))
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    worker: Mapped[str] = mapped_column(String(128))
    outcome: Mapped[str] = mapped_column(String(16), default="running")
    detail: Mapped[str | None] = mapped_column(String(2000))
