"""Database plumbing: the declarative base, UUIDv7 ids, one engine/session factory, and the
unit of work — the only place that commits.

SQLite gets WAL, foreign keys, a busy timeout and SQLAlchemy's documented pysqlite
workaround (own BEGIN, no implicit commit) so SAVEPOINTs and transactional DDL behave as on
PostgreSQL; production uses the same code path.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, ClassVar

import structlog
import uuid_utils
import uuid_utils.compat
from sqlalchemy import (
    DateTime,
    Engine,
    MetaData,
    TypeDecorator,
    Uuid,
    create_engine,
    event,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    Session,
    SessionTransaction,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.pool import NullPool

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

log = structlog.get_logger("archive.db")


def new_id() -> uuid.UUID:
    """A time-ordered UUIDv7: known before the row is encrypted, and index-friendly."""
    return uuid_utils.compat.uuid7()  # the standard library's UUID type, made in one call


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both databases (SQLite stores naive text)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; timestamps are stored in UTC")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {uuid.UUID: Uuid(as_uuid=True), datetime: UTCDateTime()}


class IdMixin:
    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=new_id)


class TimestampMixin:
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _sqlite_pragmas(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's documented fix.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")  # the log is check-pointed by SQLite itself
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Units of work (which always write: at least their audit event) take the write lock
        # up front. A deferred transaction that reads and then writes fails at once with
        # SQLITE_BUSY (no busy wait) when another connection committed in between — which the
        # audit sequencer does several times a second.
        immediate = conn.get_execution_options().get("sqlite_immediate") or conn.info.get("write_lock")
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, *, pool_size: int = 10, echo: bool = False) -> Engine:
    """The one way engines are made, so every process gets the same connection set-up."""
    if is_sqlite(url):
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False, "timeout": 10})
        _sqlite_pragmas(engine)
        return engine
    if pool_size <= 0:
        return create_engine(url, echo=echo, poolclass=NullPool)
    return create_engine(url, echo=echo, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)


class Database:
    """Holds the engine and session factory of one process."""

    def __init__(self, engine: Engine, session_factory: sessionmaker[Session] | None = None) -> None:
        self.engine = engine
        bind = engine.execution_options(sqlite_immediate=True) if engine.dialect.name == "sqlite" else engine
        self.session_factory = session_factory or sessionmaker(bind, expire_on_commit=False)

    @classmethod
    def from_url(cls, url: str, *, pool_size: int = 10, echo: bool = False) -> Database:
        return cls(make_engine(url, pool_size=pool_size, echo=echo))

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def unit_of_work(self) -> Iterator[UnitOfWork]:
        """A session of its own and one transaction on it (`with db.unit_of_work() as uow:`):
        committed when the block succeeds, rolled back when it raises (CLI, worker, importer)."""
        with self.session_factory() as session, UnitOfWork(session) as uow:
            yield uow

    def dispose(self) -> None:
        self.engine.dispose()


class UnitOfWork:
    """The one owner of a transaction, and the only code that commits one.

    `with uow:` is one transaction: it commits when the block ends and rolls back when the
    block raises. Services and repositories only `flush()`. A flow that needs two transactions
    (a login attempt recorded before the password is hashed, a long run committed per batch)
    enters the unit twice; it is never re-entered while open.

    Refusals take one path: an `ArchiveError` raised with `outlives_rollback` set (the gate
    sets it to write the refusal's audit event) is handled here — the refused act is rolled
    back, the event written and committed on its own, and the error raised on. If that event
    cannot be written the error that says so is raised instead.

    `after_commit` runs a callback once the current transaction has committed — the gate mints
    a `Grant` that way, so none exists before its audit event is durable.
    """

    __slots__ = ("_after", "_open", "session")

    def __init__(self, session: Session) -> None:
        self.session = session
        self._open = False
        self._after: list[Callable[[], None]] = []

    @property
    def active(self) -> bool:
        """Whether a `with uow:` block is running (the gate refuses to decide outside one)."""
        return self._open

    def __enter__(self) -> UnitOfWork:
        if self._open:
            raise RuntimeError("a unit of work is one transaction at a time: it is not re-entered")
        self._open = True
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None, _tb: object) -> None:
        self._open = False
        if exc is None:
            try:
                self._commit()
            except BaseException:  # the commit failed (the audit event could not be written…)
                self._after.clear()  # …so nothing waiting on it runs: no grant is minted
                self.session.rollback()
                raise
            return
        self._after.clear()
        self.session.rollback()
        record: Callable[[Session], None] | None = getattr(exc, "outlives_rollback", None)
        if record is not None:
            try:
                record(self.session)
                self._commit()
            except BaseException:
                self.session.rollback()
                raise

    def _commit(self) -> None:
        self.session.commit()
        callbacks, self._after = self._after, []
        for callback in callbacks:
            callback()

    def after_commit(self, callback: Callable[[], None]) -> None:
        if not self._open:
            raise RuntimeError("after_commit needs an open unit of work")
        self._after.append(callback)

    def savepoint(self) -> SessionTransaction:
        """A SAVEPOINT inside the open transaction (`with uow.savepoint():`), for a step that
        may fail on a constraint without ending the whole unit."""
        return self.session.begin_nested()
