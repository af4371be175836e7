"""Bulk work inside the caller's transaction: many rows into one table in one statement."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import Connection, TableClause, insert

from archive.db import Base


def insert_rows(connection: Connection, table: TableClause | type[Base], rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert `rows` into `table` (a table, or a mapped class) as one executemany: the driver's
    own on SQLite, SQLAlchemy's "insertmanyvalues" batches on PostgreSQL. Inside the caller's
    transaction: nothing is committed here. A column some rows name and others do not is NULL
    in the others."""
    if not rows:
        return
    names = dict.fromkeys(name for row in rows for name in row)
    if any(len(row) != len(names) for row in rows):
        rows = [{name: row.get(name) for name in names} for row in rows]
    connection.execute(insert(table), list(rows))
