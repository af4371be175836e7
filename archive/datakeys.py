"""The `data_keys` table and the SQL implementation of crypto's `KeyStore` protocol.

Each method runs in its own short transaction on the engine: a new DEK row is durable before
any data sealed with it (crypto/keystore.py explains why)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import Engine, Index, Integer, LargeBinary, String, and_, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from archive.db import Base, bulk_insert, utcnow
from crypto.keystore import Cursor, DekState, WrappedDek


class DataKey(Base):
    """A customer's data key, stored only wrapped by a key-encryption key. Destroying it
    (crypto-shredding) erases `wrapped_key` and keeps the row."""

    __tablename__ = "data_keys"
    __table_args__ = (Index("ix_data_keys_kek", "kek_version", "customer_id", "dek_version"),)

    # No foreign key to customers: keys may exist before the customer row, and outlive it.
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    dek_version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def _row(r: DataKey) -> WrappedDek:
    return WrappedDek(r.customer_id, r.dek_version, r.wrapped_key, r.kek_version, DekState(r.state))


class SqlKeyStore:
    def __init__(self, engine: Engine) -> None:
        from sqlalchemy.orm import sessionmaker

        self._sessions = sessionmaker(engine, expire_on_commit=False)

    def get_current(self, customer_id: uuid.UUID) -> WrappedDek | None:
        with self._sessions() as s:
            r = s.scalar(select(DataKey).where(DataKey.customer_id == customer_id)
                         .order_by(DataKey.dek_version.desc()).limit(1))
            return _row(r) if r else None

    def get(self, customer_id: uuid.UUID, dek_version: int) -> WrappedDek | None:
        with self._sessions() as s:
            r = s.get(DataKey, (customer_id, dek_version))
            return _row(r) if r else None

    def insert(self, row: WrappedDek) -> WrappedDek:
        try:
            with self._sessions.begin() as s:
                if row.state is DekState.ACTIVE:
                    s.execute(update(DataKey).where(DataKey.customer_id == row.customer_id,
                                                    DataKey.state == DekState.ACTIVE.value)
                              .values(state=DekState.RETIRED.value))
                s.add(DataKey(customer_id=row.customer_id, dek_version=row.dek_version,
                              wrapped_key=row.wrapped_key, kek_version=row.kek_version, state=row.state.value))
        except IntegrityError:
            pass  # another process inserted it first: the stored row wins
        stored = self.get(row.customer_id, row.dek_version)
        assert stored is not None
        return stored

    def insert_many(self, rows: Sequence[WrappedDek]) -> None:
        """New customers' first keys in one transaction (IntegrityError if any exists)."""
        if not rows:
            return
        now = utcnow()
        with self._sessions.begin() as s:  # one executemany for the whole batch
            bulk_insert(s.connection(), DataKey.__table__, [
                {"customer_id": r.customer_id, "dek_version": r.dek_version, "wrapped_key": r.wrapped_key,
                 "kek_version": r.kek_version, "state": r.state.value, "created_at": now} for r in rows])

    def update_wrapping(self, customer_id: uuid.UUID, dek_version: int, *, expected_kek_version: int,
                        wrapped_key: bytes, kek_version: int) -> bool:
        with self._sessions.begin() as s:
            done = s.execute(update(DataKey).where(
                DataKey.customer_id == customer_id, DataKey.dek_version == dek_version,
                DataKey.kek_version == expected_kek_version, DataKey.state != DekState.DESTROYED.value,
            ).values(wrapped_key=wrapped_key, kek_version=kek_version))
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def destroy(self, customer_id: uuid.UUID) -> int:
        with self._sessions.begin() as s:
            done = s.execute(update(DataKey).where(DataKey.customer_id == customer_id)
                             .values(wrapped_key=None, state=DekState.DESTROYED.value))
            return int(done.rowcount)  # type: ignore[attr-defined]

    def wrapped_under(self, kek_version: int, *, after: Cursor | None, limit: int) -> list[WrappedDek]:
        query = select(DataKey).where(DataKey.kek_version == kek_version, DataKey.state != DekState.DESTROYED.value)
        if after is not None:
            cid, version = after
            query = query.where(or_(DataKey.customer_id > cid,
                                    and_(DataKey.customer_id == cid, DataKey.dek_version > version)))
        with self._sessions() as s:
            rows = s.scalars(query.order_by(DataKey.customer_id, DataKey.dek_version).limit(limit)).all()
            return [_row(r) for r in rows]

    def count_by_kek_version(self) -> dict[int, int]:
        with self._sessions() as s:
            rows = s.execute(select(DataKey.kek_version, func.count()).where(
                DataKey.state != DekState.DESTROYED.value).group_by(DataKey.kek_version)).all()
            return {int(v): int(n) for v, n in rows}

    def __repr__(self) -> str:
        return "SqlKeyStore(data_keys)"
