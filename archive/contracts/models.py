"""The contract ledger (合同管理台帐): numbers per department and year without gaps, and each
contract event with its two one-month steps — hand-over to the credit manager, then to the
archive (004 §3)."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from sqlalchemy import Date, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from archive.db import Base, IdMixin, TimestampMixin


class ContractCounter(Base):
    """The last number given per department and year; incremented under a row lock in the
    transaction that creates the contract, so numbers are consecutive and never reused."""

    __tablename__ = "contract_counters"

    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"), primary_key=True)
    year: Mapped[int] = mapped_column(Integer, primary_key=True)
    last: Mapped[int] = mapped_column(Integer, default=0)


class Contract(IdMixin, TimestampMixin, Base):
    __tablename__ = "contracts"
    __table_args__ = (UniqueConstraint("department_id", "year", "seq"),)

    number: Mapped[str] = mapped_column(String(40), unique=True)  # e.g. SALES-2026-0001
    department_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("departments.id"), index=True)
    year: Mapped[int] = mapped_column(Integer)
    seq: Mapped[int] = mapped_column(Integer)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    handler_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    status: Mapped[str] = mapped_column(String(16), default="signed")  # the latest event's kind


class ContractEvent(IdMixin, TimestampMixin, Base):
    """Signed, changed, performed or terminated: each starts the hand-over clock."""

    __tablename__ = "contract_events"

    contract_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("contracts.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    occurred_on: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    handover_due: Mapped[date] = mapped_column(Date, index=True)
    handed_over_on: Mapped[date | None] = mapped_column(Date)
    handed_over_to: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("users.id"))
    archive_due: Mapped[date | None] = mapped_column(Date, index=True)
    archived_on: Mapped[date | None] = mapped_column(Date)
    overdue_flagged_at: Mapped[datetime | None]  # set by the worker when the open step went late
