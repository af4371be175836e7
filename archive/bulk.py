"""Bulk work inside the caller's transaction: many rows into one table at once (`insert_rows`:
COPY on PostgreSQL, executemany on SQLite), and one bound parameter for a whole list of values
(`one_of`)."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import (
    Connection,
    String,
    Table,
    TypeDecorator,
    any_,
    bindparam,
    func,
    insert,
    literal_column,
    select,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.sql import ColumnElement, Select
from sqlalchemy.types import UserDefinedType

from archive.db import Base


def insert_rows(connection: Connection, table: Table | type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` into `table` (a table, or a mapped class) inside the caller's transaction:
    nothing is committed here. One COPY on PostgreSQL (psycopg); one executemany on SQLite
    (the driver's own). A column some rows name and others do not is NULL in the others; a
    refused row (a duplicate key) raises SQLAlchemy's error, as an INSERT would, its values
    hidden (they are ciphertext and customer data)."""
    if not rows:
        return
    target: Table = table if isinstance(table, Table) else table.__table__  # type: ignore[assignment]
    names = list(dict.fromkeys(name for row in rows for name in row))
    if connection.dialect.name == "postgresql":
        _copy(connection, target, names, rows)
        return
    if any(len(row) != len(names) for row in rows):
        rows = [{name: row.get(name) for name in names} for row in rows]
    connection.execute(insert(target), list(rows))


def _copy(connection: Connection, table: Table, names: list[str], rows: Sequence[Mapping[str, Any]]) -> None:
    """COPY … FROM STDIN: the rows stream to the server in one command. A column type's own
    conversion (a `TypeDecorator`, e.g. timestamps kept in UTC) is applied; psycopg adapts the
    values (UUIDs, bytes, text, numbers) as it does for any statement."""
    dialect = connection.dialect
    columns = [table.c[name] for name in names]
    convert = [column.type.process_bind_param if isinstance(column.type, TypeDecorator) else None
               for column in columns]
    quote = dialect.identifier_preparer.quote
    # Table and column names come from the metadata, never from input.
    statement = f"COPY {quote(table.name)} ({', '.join(quote(c.name) for c in columns)}) FROM STDIN"
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row([value if value is None or fix is None else fix(value, dialect)
                                for value, fix in zip([row.get(name) for name in names], convert, strict=True)])
    except dialect.loaded_dbapi.Error as error:
        raise DBAPIError.instance(statement, None, error, dialect.loaded_dbapi.Error, hide_parameters=True,
                                  dialect=dialect) from error
    finally:
        cursor.close()


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
