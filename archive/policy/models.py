"""Which policy is in force: one row per release, the newest wins. Every web worker and the
scheduler compare the newest row with the policy they hold and reload when it differs, so a
release reaches all workers without a restart (archive/policy/watch.py)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from archive.db import Base, utcnow


class PolicyRelease(Base):
    __tablename__ = "policy_releases"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    version: Mapped[str] = mapped_column(String(64))  # archive.policy.files.policy_version of the files
    released_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_by: Mapped[str] = mapped_column(String(200))  # username, or the OS user of the CLI
    note: Mapped[str] = mapped_column(String(500), default="")


@dataclass(frozen=True, slots=True)
class Release:
    """A release as callers see it (a plain value, detached from the session)."""

    version: str
    released_at: datetime
    released_by: str
    note: str
