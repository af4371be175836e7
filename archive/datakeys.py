"""The `data_keys` table and the SQL implementation of crypto's `KeyStore` protocol.

Two kinds of store over the one table:

- `SqlKeyStore.within(session)` reads and writes through the caller's transaction. A new
  customer's first data key goes this way (`KeyRing.within(store)` for a registration,
  `add_first_keys` for an import), so it commits with its customer or not at all: a crash
  can leave neither a customer without its key nor a key without its customer.
- `SqlKeyStore(engine)`, the process's store behind the shared `KeyRing`, reads on a
  connection of its own and makes each change (a rotated data key, a rewrap, a destroy) in a
  unit of work of its own (archive/db.py).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Index, Integer, LargeBinary, String, and_, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from archive.bulk import insert_rows
from archive.db import Base, Database, utcnow
from crypto.keystore import Cursor, DekState, WrappedDek


class DataKey(Base):
    """A customer's data key, stored only wrapped by a key-encryption key. Destroying it
    (crypto-shredding) erases `wrapped_key` and keeps the row."""

    __tablename__ = "data_keys"
    __table_args__ = (Index("ix_data_keys_kek", "kek_version", "customer_id", "dek_version"),)

    # No foreign key to customers: keys outlive their customer (a shredded customer's rows).
    customer_id: Mapped[uuid.UUID] = mapped_column(primary_key=True)
    dek_version: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    kek_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


_T = DataKey.__table__.c
_COLUMNS = (_T.customer_id, _T.dek_version, _T.wrapped_key, _T.kek_version, _T.state)


def _row(r: Any) -> WrappedDek:
    return WrappedDek(r.customer_id, r.dek_version, r.wrapped_key, r.kek_version, DekState(r.state))


class SqlKeyStore:
    def __init__(self, engine: Engine) -> None:
        self._engine: Engine | None = engine
        self._db = Database(engine)
        self._session: Session | None = None

    @classmethod
    def within(cls, session: Session) -> SqlKeyStore:
        """The store seen through `session`'s transaction: what it writes commits (or rolls
        back) with the rest of that transaction, and it reads what the transaction wrote."""
        store = cls.__new__(cls)
        store._engine, store._session = None, session
        return store

    @contextmanager
    def _reading(self) -> Iterator[Any]:
        if self._session is not None:
            yield self._session
            return
        assert self._engine is not None
        with self._engine.connect() as connection:  # read only: closing it ends the transaction
            yield connection

    @contextmanager
    def _writing(self) -> Iterator[Session]:
        if self._session is not None:
            yield self._session
            return
        with self._db.unit_of_work() as uow:
            yield uow.session

    def get_current(self, customer_id: uuid.UUID) -> WrappedDek | None:
        with self._reading() as reader:
            r = reader.execute(select(*_COLUMNS).where(_T.customer_id == customer_id)
                               .order_by(_T.dek_version.desc()).limit(1)).first()
        return _row(r) if r else None

    def get(self, customer_id: uuid.UUID, dek_version: int) -> WrappedDek | None:
        with self._reading() as reader:
            r = reader.execute(select(*_COLUMNS).where(_T.customer_id == customer_id,
                                                       _T.dek_version == dek_version)).first()
        return _row(r) if r else None

    def insert(self, row: WrappedDek) -> WrappedDek:
        try:
            with self._writing() as session:
                if row.state is DekState.ACTIVE:
                    session.execute(update(DataKey).where(DataKey.customer_id == row.customer_id,
                                                          DataKey.state == DekState.ACTIVE.value)
                                    .values(state=DekState.RETIRED.value))
                session.execute(insert(DataKey).values(
                    customer_id=row.customer_id, dek_version=row.dek_version, wrapped_key=row.wrapped_key,
                    kek_version=row.kek_version, state=row.state.value, created_at=utcnow()))
        except IntegrityError:
            if self._session is not None:
                raise  # the caller's transaction is spoilt: it rolls back, customer and all
            # Another process inserted it first (its own unit rolled back): the stored row wins.
        stored = self.get(row.customer_id, row.dek_version)
        assert stored is not None
        return stored

    def add_first_keys(self, rows: Sequence[WrappedDek]) -> None:
        """New customers' first keys, in one statement, through the caller's transaction (an
        import inserts them with the customers): IntegrityError if any exists already."""
        if self._session is None:
            raise RuntimeError("a new customer's first key is stored in the transaction that stores the customer")
        now = utcnow()
        insert_rows(self._session.connection(), DataKey, [
            {"customer_id": r.customer_id, "dek_version": r.dek_version, "wrapped_key": r.wrapped_key,
             "kek_version": r.kek_version, "state": r.state.value, "created_at": now} for r in rows])

    def update_wrapping(self, customer_id: uuid.UUID, dek_version: int, *, expected_kek_version: int,
                        wrapped_key: bytes, kek_version: int) -> bool:
        with self._writing() as session:
            done = session.execute(update(DataKey).where(
                DataKey.customer_id == customer_id, DataKey.dek_version == dek_version,
                DataKey.kek_version == expected_kek_version, DataKey.state != DekState.DESTROYED.value,
            ).values(wrapped_key=wrapped_key, kek_version=kek_version))
            return bool(done.rowcount)  # type: ignore[attr-defined]

    def destroy(self, customer_id: uuid.UUID) -> int:
        with self._writing() as session:
            done = session.execute(update(DataKey).where(DataKey.customer_id == customer_id)
                                   .values(wrapped_key=None, state=DekState.DESTROYED.value))
            return int(done.rowcount)  # type: ignore[attr-defined]

    def wrapped_under(self, kek_version: int, *, after: Cursor | None, limit: int) -> list[WrappedDek]:
        query = select(*_COLUMNS).where(_T.kek_version == kek_version, _T.state != DekState.DESTROYED.value)
        if after is not None:
            cid, version = after
            query = query.where(or_(_T.customer_id > cid, and_(_T.customer_id == cid, _T.dek_version > version)))
        with self._reading() as reader:
            rows = reader.execute(query.order_by(_T.customer_id, _T.dek_version).limit(limit)).all()
        return [_row(r) for r in rows]

    def count_by_kek_version(self) -> dict[int, int]:
        with self._reading() as reader:
            rows = reader.execute(select(_T.kek_version, func.count()).where(
                _T.state != DekState.DESTROYED.value).group_by(_T.kek_version)).all()
        return {int(v): int(n) for v, n in rows}

    def __repr__(self) -> str:
        return "SqlKeyStore(data_keys" + (", within a transaction)" if self._session is not None else ")")
