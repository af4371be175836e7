"""Database plumbing: the declarative base, UUIDv7 ids, one engine/session factory, and the
unit of work — the only place that commits.

SQLite gets WAL, foreign keys, a busy timeout and SQLAlchemy's documented pysqlite
workaround (own BEGIN, no implicit commit) so SAVEPOINTs and transactional DDL behave as on
PostgreSQL; production uses the same code path.
"""

from __future__ import annotations

import functools
import json
import operator
import sqlite3
import threading
import uuid
import weakref
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from itertools import chain, repeat
from typing import Any, ClassVar

import structlog
import uuid_utils
import uuid_utils.compat
from sqlalchemy import (
    Connection,
    DateTime,
    Engine,
    LargeBinary,
    MetaData,
    String,
    Table,
    TypeDecorator,
    Uuid,
    any_,
    bindparam,
    create_engine,
    event,
    func,
    literal_column,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import (
    DeclarativeBase,
    InstrumentedAttribute,
    Mapped,
    Session,
    SessionTransaction,
    mapped_column,
    sessionmaker,
)
from sqlalchemy.pool import NullPool
from sqlalchemy.sql import ColumnElement, FromClause, Select
from sqlalchemy.types import UserDefinedType

from archive import sqlite_wal

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
    path = sqlite_wal.database_path(engine.url.database)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # pysqlite's own transaction handling breaks SAVEPOINT; SQLAlchemy's documented fix.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.execute("PRAGMA synchronous=NORMAL")
        if path is not None:  # the log is check-pointed in the background (archive/sqlite_wal.py)
            cursor.execute(f"PRAGMA wal_autocheckpoint={sqlite_wal.INLINE_CHECKPOINT_PAGES:d}")
            cursor.execute(f"PRAGMA journal_size_limit={sqlite_wal.CHECKPOINT_BYTES:d}")
        cursor.close()

    if path is not None:
        engine_ref = weakref.ref(engine)

        @event.listens_for(engine, "checkin")
        def _on_checkin(_dbapi_connection: Any, _record: Any) -> None:
            checked_in = engine_ref()
            if checked_in is None:
                return
            pool = checked_in.pool  # a disposed engine gets a new pool: its old files may be going away

            def wanted() -> bool:
                current = engine_ref()
                return current is not None and current.pool is pool

            sqlite_wal.after_checkin(path, wanted)

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


class Pending:
    """Work finishing in a background thread that holds no GIL while it works, so the caller
    computes on meanwhile. Mostly a bulk insert the database is still completing: on PostgreSQL
    the end of a COPY (the server inserting the last rows and running the foreign-key checks it
    queued, awaited on the socket); on SQLite the whole insert (a few multi-row statements, each
    one step of the library's C code) — nothing else may use the connection until `wait`. Also
    an import part's sealing (archive/customers/rowwork.Sealing, C code that lets go of the
    GIL). `wait` joins it and raises what failed."""

    def __init__(self, finish: Callable[[], None] | None = None, *, name: str = "bulk-insert") -> None:
        self._error: BaseException | None = None
        self._thread: threading.Thread | None = None
        if finish is not None:
            self._thread = threading.Thread(target=self._run, args=(finish,), name=name, daemon=True)
            self._thread.start()

    def _run(self, finish: Callable[[], None]) -> None:
        try:
            finish()
        except BaseException as error:  # handed to the caller's thread by `wait`
            self._error = error

    def wait(self) -> None:
        # An interrupted join (Ctrl-C) still lets the insert end before the interruption goes
        # on: what the caller does next is roll back, and on SQLite (whose connection has no
        # lock of its own) a rollback overtaking the insert would leave its remaining rows to
        # commit on their own. What the database refused stays for the next `wait`.
        if self._thread is not None:
            try:
                self._thread.join()
            except BaseException:
                self._thread.join()
                self._thread = None
                raise
            self._thread = None
        error, self._error = self._error, None
        if error is not None:
            raise error

    def settle(self) -> None:
        """Wait for the insert while another error is already on its way out: what the
        database refused is logged (its kind, never its values), not raised over that error."""
        try:
            self.wait()
        except Exception as error:
            log.warning("bulk_insert.failed_during_another_error", error=type(error).__name__)


def bulk_insert(connection: Connection, table: FromClause, rows: Sequence[Mapping[str, Any]], *,
                columns: Sequence[str] | None = None, wait: bool = True, after: Pending | None = None) -> Pending:
    """Rows straight to the driver, inside the caller's transaction: the bulk-import hot path,
    without SQLAlchemy's per-row parameter machinery. COPY on PostgreSQL; multi-row INSERTs on
    SQLite. `columns` defaults to the first row's keys; a row without one of them inserts NULL
    there. With `wait=False` the database's part of the work is left to finish in the
    background (`Pending`): call `wait()` on the result before the connection's next statement.
    `after` is an earlier insert on the same connection that must be complete first."""
    if not rows:
        return _nothing(after)
    names = list(columns if columns is not None else rows[0])
    if connection.dialect.name == "postgresql":
        return _insert(connection, table, lambda: [(names, _bound(rows, names, table, connection.dialect))],
                       wait=wait, after=after)
    # On SQLite the rows are grouped by the columns they hold, and a column a group lacks is
    # left out of its statement (NULL unless it has a server default, which then gets an
    # explicit NULL): binding a None goes through the driver's adaptation protocol and costs
    # more than twice a string.
    def grouped() -> list[tuple[list[str], list[tuple[Any, ...]]]]:
        wanted = set(names)
        defaulted = [n for n in names if table.c[n].server_default is not None]
        groups: dict[tuple[str, ...], list[Mapping[str, Any]]] = {}
        for row in rows:
            groups.setdefault(tuple(row), []).append(row)
        out = []
        for keys, members in groups.items():
            held = [k for k in keys if k in wanted]
            group = held + [n for n in defaulted if n not in held] or names  # none held: NULLs
            out.append((group, _bound(members, group, table, connection.dialect)))
        return out

    return _insert(connection, table, grouped, wait=wait, after=after)


def bulk_insert_columns(connection: Connection, table: FromClause, columns: Mapping[str, Sequence[Any]], *,
                        wait: bool = True, after: Pending | None = None) -> Pending:
    """`bulk_insert` of rows given a column at a time (name -> each row's value, None for
    NULL), as the bulk import builds them: never a dict per row, and each column converted
    for the driver in one pass. On SQLite a column that is NULL throughout is left out of
    the statement (unless it has a server default: it then gets the explicit NULLs)."""
    if not columns or not any(map(len, columns.values())):
        return _nothing(after)

    def bound() -> list[tuple[list[str], list[tuple[Any, ...]]]]:
        if len({len(values) for values in columns.values()}) > 1:
            raise ValueError("every column needs one value per row")
        names = list(columns)
        if connection.dialect.name != "postgresql":
            names = [n for n in names if table.c[n].server_default is not None or
                     any(map(operator.is_not, columns[n], repeat(None)))] or names
        converted = _converted([columns[n] for n in names], [table.c[n] for n in names], connection.dialect)
        return [(names, list(zip(*converted, strict=True)))]

    return _insert(connection, table, bound, wait=wait, after=after)


def _nothing(after: Pending | None) -> Pending:
    if after is not None:
        after.wait()
    return Pending()


def _insert(connection: Connection, table: FromClause,
            bound: Callable[[], list[tuple[list[str], list[tuple[Any, ...]]]]], *, wait: bool,
            after: Pending | None) -> Pending:
    """Groups of (column names, rows as the driver takes them) inserted by COPY or by
    multi-row INSERTs; `bound` makes them (and may raise, the earlier insert then settled)."""
    try:
        groups = bound()
        if connection.dialect.name == "postgresql":
            if after is not None:
                after.wait()  # the COPY streams from this thread
            [(names, values)] = groups  # one COPY: rows lacking a column send NULL there
            pending = _copy(connection, table, names, values)
        else:
            pending = _sqlite_insert(connection, table, groups, after, background=not wait)
    except BaseException:
        if after is not None:
            after.settle()  # never leave an earlier insert running under the caller's rollback
        raise
    if wait:
        pending.wait()
    return pending


def _copy(connection: Connection, table: FromClause, names: list[str], values: list[tuple[Any, ...]]) -> Pending:
    """COPY: one stream instead of a statement per row. In the binary format when every
    column's type is known: ciphertext then crosses as bytes, not hex text to escape here and
    parse there. The end of the COPY is left to a `Pending`."""
    dialect = connection.dialect
    cols = [table.c[name] for name in names]
    quote = dialect.identifier_preparer.quote
    # Table and column names come from the metadata, never from input.
    column_list = ", ".join(quote(c.name) for c in cols)
    types = [_PG_BINARY.get(type(c.type).__name__) for c in cols]
    binary = None not in types
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    stream = cursor.copy(f"COPY {quote(_name(table))} ({column_list}) "
                         f"FROM STDIN{' (FORMAT BINARY)' if binary else ''}")
    statement = f"COPY {_name(table)}"
    copy = stream.__enter__()
    try:
        with _as_sqlalchemy_error(dialect, statement):
            if binary:
                copy.set_types(types)
            for value in values:
                copy.write_row(value)
    except BaseException as error:
        stream.__exit__(type(error), error, error.__traceback__)  # cancels the COPY
        raise

    def finish() -> None:
        with _as_sqlalchemy_error(dialect, statement):
            stream.__exit__(None, None, None)

    return Pending(finish)


def _sqlite_insert(connection: Connection, table: FromClause, groups: list[tuple[list[str], list[tuple[Any, ...]]]],
                   after: Pending | None, *, background: bool) -> Pending:
    """Multi-row INSERTs, a statement per group of rows holding the same columns, run by a
    `Pending` in the background (which needs a connection made with `check_same_thread=False`,
    as `make_engine` makes them) or here. Blobs go as `bytearray` (`_bind_converter`)."""
    dialect = connection.dialect
    dbapi = connection.connection.dbapi_connection
    quote = dialect.identifier_preparer.quote
    limit = dbapi.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER)  # type: ignore[union-attr]
    statements: list[tuple[str, str, int, list[tuple[Any, ...]]]] = []
    for names, values in groups:
        # Table and column names come from the metadata, never from input.
        head = f"INSERT INTO {quote(_name(table))} ({', '.join(quote(table.c[n].name) for n in names)}) VALUES "  # noqa: S608
        # As many rows per statement as the library binds parameters (32,766 by default), up to
        # a few hundred: each statement is then one step of SQLite's C code, which lets go of the
        # GIL for all of its rows, where executemany takes it back after every row.
        per_statement = max(1, min(_SQLITE_ROWS_PER_STATEMENT, limit // max(1, len(names))))
        statements.append((head, "(" + ",".join("?" * len(names)) + ")", per_statement, values))

    in_transaction = dbapi.in_transaction  # type: ignore[union-attr]

    def insert() -> None:
        if after is not None:
            after.wait()
        cursor = dbapi.cursor()  # type: ignore[union-attr]
        try:
            for head, placeholders, per_statement, values in statements:
                with _as_sqlalchemy_error(dialect, head):
                    for start in range(0, len(values), per_statement):
                        # Belt and braces: callers wait before they roll back, but rows of a
                        # transaction that has ended would commit on their own.
                        if in_transaction and not dbapi.in_transaction:  # type: ignore[union-attr]
                            raise RuntimeError("the transaction ended under a bulk insert")
                        chunk = values[start:start + per_statement]
                        cursor.execute(head + ",".join([placeholders] * len(chunk)),
                                       list(chain.from_iterable(chunk)))
        finally:
            cursor.close()

    if not background:
        insert()
        return Pending()
    return Pending(insert)


@contextmanager
def _as_sqlalchemy_error(dialect: Dialect, statement: str) -> Iterator[None]:
    """The driver's error as SQLAlchemy raises it elsewhere (`IntegrityError` for a duplicate
    key, …), its parameters hidden: they are ciphertext and customer profile values."""
    try:
        yield
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(statement, None, error, dialect.loaded_dbapi.Error, hide_parameters=True,
                                  dialect=dialect) from error


def _bound(rows: Sequence[Mapping[str, Any]], names: Sequence[str], table: FromClause,
           dialect: Dialect) -> list[tuple[Any, ...]]:
    """Each row's values in `names` order, as the driver takes them (a missing one is None):
    picked a row at a time, converted a column at a time (`_converted`)."""
    every = operator.itemgetter(*names)
    width = len(names)
    try:
        # Rows holding every column (on SQLite all of them: its groups are by the columns held)
        # are read by C-level calls only.
        picked: list[tuple[Any, ...]] = list(map(every, rows)) if width > 1 else [(every(r),) for r in rows]
    except KeyError:  # some row lacks a column: NULL there
        picked = [tuple([row.get(n) for n in names]) for row in rows]
    cols = [table.c[n] for n in names]
    if not picked or all(_bind_converter(c, dialect) is None for c in cols):
        return picked
    return list(zip(*_converted(list(zip(*picked, strict=True)), cols, dialect), strict=True))


def _converted(columns: list[Sequence[Any]], cols: Sequence[Any], dialect: Dialect) -> list[Sequence[Any]]:
    """Each column's values as the driver takes them, converted a column at a time (a list
    comprehension per column instead of a Python loop over the converters of every row)."""
    columns = list(columns)
    for i, col in enumerate(cols):
        converter = _bind_converter(col, dialect)
        if converter is None:
            continue
        column = columns[i]
        # Compared by identity, never by value (UUID's == is Python code): one object throughout
        # (the department, the import's timestamp) is converted once.
        first = column[0]
        if column[-1] is first and len(set(map(id, column))) == 1:
            columns[i] = [None if first is None else converter(first)] * len(column)
        elif any(map(operator.is_, column, repeat(None))):
            columns[i] = [None if v is None else converter(v) for v in column]
        else:
            columns[i] = list(map(converter, column))
    return columns


def _name(table: FromClause) -> str:
    return table.name if isinstance(table, Table) else str(table)


def one_of(column: ColumnElement[Any] | InstrumentedAttribute[Any], values: Sequence[str] | None,
           dialect: str, *, name: str | None = None) -> ColumnElement[bool]:
    """`column IN (values)` with the values as one bound parameter, however many there are:
    an array on PostgreSQL, a JSON list read by `json_each` on SQLite. SQLAlchemy's IN renders
    a parameter per value, which costs more than the lookup itself for a file's thousands. The
    array goes as its text form, which the server parses once as it binds the parameter:
    psycopg would adapt a list element by element in Python.

    With `name` (and `values` None) the values come with each execution, as the parameter of
    that name (a list of strings): a statement built once and run for every part of a file,
    which saves rebuilding it (and SQLAlchemy's walk over it) each time."""
    if values is None and name is None:
        raise ValueError("one_of needs the values or the name of the parameter that will hold them")
    type_ = _TextArray() if dialect == "postgresql" else _JsonList()
    param = bindparam(name, type_=type_) if values is None else bindparam(None, list(values), type_=type_)
    if dialect == "postgresql":
        return column == any_(param)
    each: Select[Any] = select(literal_column("value")).select_from(func.json_each(param))
    return column.in_(each.scalar_subquery())


def pg_text_array(values: Sequence[str]) -> str:
    """PostgreSQL's text form of a text[] holding `values`, each element quoted."""
    return "{" + ",".join(['"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values]) + "}"


class _JsonList(TypeDecorator[list[str]]):
    """A list of strings sent to SQLite as one JSON text (for `json_each`)."""

    impl = String
    cache_ok = True

    def process_bind_param(self, value: list[str] | None, dialect: Dialect) -> str | None:
        return None if value is None else json.dumps(value)


class _TextArray(UserDefinedType[list[str]]):
    """A varchar[] parameter sent as its text form: psycopg passes a str untyped, and the
    `::VARCHAR[]` rendered after it makes the server read it as the array, once, as it binds."""

    cache_ok = True
    render_bind_cast = True

    def get_col_spec(self, **_kw: Any) -> str:
        return "VARCHAR[]"

    def bind_processor(self, dialect: Dialect) -> Callable[[list[str] | None], str | None]:
        return lambda value: None if value is None else pg_text_array(value)


@functools.lru_cache(maxsize=128)  # a part of an import converts the same columns again
def _bind_converter(column: Any, dialect: Dialect) -> Callable[[Any], Any] | None:
    """The column type's bind processor. Binary columns go to the driver as bytes to psycopg
    and as `bytearray` to sqlite3 (which adapts `bytes` through its slow protocol path and binds
    a bytearray's buffer directly)."""
    if isinstance(column.type, LargeBinary):
        return bytearray if dialect.name == "sqlite" else None
    process: Callable[[Any], Any] | None = column.type.dialect_impl(dialect).bind_processor(dialect)
    return process


_SQLITE_ROWS_PER_STATEMENT = 500
# SQLAlchemy type -> the PostgreSQL type a binary COPY sends it as (exact: the server reads the
# bytes with the column type's own receive function).
_PG_BINARY = {"Uuid": "uuid", "String": "text", "Text": "text", "LargeBinary": "bytea", "Integer": "int4",
              "UTCDateTime": "timestamptz", "Boolean": "bool"}


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
            self._commit()
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

    # TRANSITIONAL (issue 26): the explicit calls below go once every caller uses `with uow:`;
    # the commit lint then fails on any `.commit(` left outside this module.
    def commit(self) -> None:
        self._commit()

    def rollback(self) -> None:
        self._after.clear()
        self.session.rollback()

    def savepoint(self) -> SessionTransaction:
        """A SAVEPOINT inside the open transaction (`with uow.savepoint():`), for a step that
        may fail on a constraint without ending the whole unit."""
        return self.session.begin_nested()
