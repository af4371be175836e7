"""The readiness probe's scratch table: written and read back by `/readyz`, so readiness proves
the database takes writes without ever touching the chained access log."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String
from sqlalchemy.orm import Mapped, mapped_column

from archive.db import Base, IdMixin


class ReadinessProbe(IdMixin, Base):
    __tablename__ = "readiness_probe"

    process: Mapped[str] = mapped_column(String(128), index=True)  # host:pid of the process that checked
    checked_at: Mapped[datetime]
