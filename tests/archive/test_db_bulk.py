"""The bulk-import plumbing in archive/db.py, on SQLite and PostgreSQL: `one_of` finds exactly
the rows whose value is in a list, whatever the values hold (quotes, backslashes, commas,
braces, the word NULL), and `bulk_insert` stores exactly the rows it is given."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, cast, create_engine, func, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from archive.db import bulk_insert, bulk_insert_columns, one_of

_meta = MetaData()
PROBE = Table("test_bulk_probe", _meta, Column("id", String(36), primary_key=True), Column("value", String(200)),
              Column("blob", LargeBinary))

AWKWARD = ['a', 'b"c', "d\\e", "x,y", "{z}", " sp ", "NULL", "", "中文", "it's", "\\\"", "}{,"]
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)


@pytest.fixture
def tables(engine: Engine) -> Iterator[Engine]:
    """The engine with this module's tables created empty, dropped afterwards."""
    _meta.drop_all(engine, checkfirst=True)
    _meta.create_all(engine)
    yield engine
    _meta.drop_all(engine)


def test_one_of_matches_exactly_the_listed_values(tables: Engine) -> None:
    with tables.begin() as conn:
        rows = [{"id": str(uuid.uuid4()), "value": v} for v in AWKWARD]
        bulk_insert(conn, PROBE, rows)
        dialect = conn.dialect.name
        for value in AWKWARD:
            found = conn.scalars(select(PROBE.c.value).where(one_of(PROBE.c.value, [value], dialect))).all()
            assert found == [value]
        assert sorted(conn.scalars(select(PROBE.c.value).where(
            one_of(PROBE.c.value, AWKWARD[:5], dialect))).all()) == sorted(AWKWARD[:5])
        assert conn.scalars(select(PROBE.c.value).where(one_of(PROBE.c.value, [], dialect))).all() == []
        absent = one_of(PROBE.c.value, ["nope", "NUL"], dialect)
        assert conn.scalars(select(PROBE.c.value).where(absent)).all() == []


@hypothesis_settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(texts, min_size=1, max_size=8, unique=True), probe=texts)
def test_one_of_agrees_with_python_membership(engine: Engine, values: list[str], probe: str) -> None:
    with engine.connect() as conn:
        stmt = select(one_of(_literal(probe), values, conn.dialect.name))
        found = conn.scalar(stmt)
    assert bool(found) == (probe in values)


def _literal(value: str) -> ColumnElement[str]:
    return cast(literal(value, String), String)


WIDE = Table("test_bulk_wide", _meta, Column("id", String(36), primary_key=True), Column("a", String(20)),
             Column("b", LargeBinary), Column("c", String(20), server_default="dflt"), Column("d", String(20)))


LOOSE = Table("test_bulk_loose", _meta, Column("a", String(20)), Column("d", String(20)))  # every column nullable


def test_bulk_insert_stores_rows_whatever_columns_each_holds(tables: Engine) -> None:
    """Rows holding different columns (grouped into statements of their own on SQLite), None
    values, blobs, and a column with a server default: `columns` names the columns, and a row
    without one of them stores NULL there — even where the column has a default."""
    rows: list[dict[str, object]] = [{"id": f"r{i}", "a": f"a{i}", "b": bytes([i % 256]) * (i % 7)}
                                     for i in range(1200)]
    rows += [{"id": "only-id"}, {"id": "none-a", "a": None, "b": None}, {"b": b"\x00\xff", "id": "reordered"},
             {"id": "with-c", "c": "given", "d": "x"}]
    with tables.begin() as conn:
        bulk_insert(conn, WIDE, rows, columns=["id", "a", "b", "c", "d"])
        stored = {r.id: r for r in conn.execute(select(WIDE))}
    assert len(stored) == len(rows)
    for row in rows:
        got = stored[str(row["id"])]
        assert (got.a, got.b, got.c, got.d) == (row.get("a"), row.get("b"), row.get("c"), row.get("d"))


def test_bulk_insert_in_the_background_finishes_in_order_and_reports_failures(tables: Engine) -> None:
    with tables.begin() as conn:
        first = bulk_insert(conn, PROBE, [{"id": f"p{i}", "value": str(i)} for i in range(700)], wait=False)
        second = bulk_insert(conn, WIDE, [{"id": f"w{i}", "a": str(i)} for i in range(10)], wait=False, after=first)
        second.wait()
        assert conn.scalar(select(func.count()).select_from(PROBE)) == 700
        assert conn.scalar(select(func.count()).select_from(WIDE)) == 10
        clash = bulk_insert(conn, PROBE, [{"id": "fresh", "value": "x"}, {"id": "p3", "value": "again"}],
                            wait=False)
        with pytest.raises(IntegrityError) as refused:  # as SQLAlchemy raises it elsewhere
            clash.wait()
        assert "again" not in str(refused.value)  # the values stay out of the message
        clash.wait()  # the failure is reported once


def test_a_failure_after_a_background_insert_started_leaves_nothing_behind(tables: Engine) -> None:
    """The data keys' insert runs in the background while the customers' is prepared: if that
    preparation fails, the rollback must not overtake the running insert (on SQLite its
    remaining rows would commit on their own)."""
    with tables.connect() as conn:
        conn.begin()
        running = bulk_insert(conn, PROBE, [{"id": f"k{i}", "value": str(i)} for i in range(20_000)],
                              wait=False)
        with pytest.raises(KeyError):
            bulk_insert(conn, WIDE, [{"id": "x", "no_such_column": 1}], columns=["id", "no_such_column"],
                        wait=False, after=running)
        conn.rollback()
    with tables.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PROBE)) == 0


def test_a_row_holding_none_of_the_columns_inserts_nulls(tables: Engine) -> None:
    with tables.begin() as conn:
        bulk_insert(conn, LOOSE, [{"a": "x"}, {"other": 1}], columns=["a", "d"])
        assert sorted(conn.execute(select(LOOSE.c.a, LOOSE.c.d)).all(), key=str) == [("x", None), (None, None)]


def test_waiting_inserts_run_on_a_connection_bound_to_its_thread(tmp_path: Path) -> None:
    """`wait=True` runs the insert in the caller's thread: an engine made without
    `check_same_thread=False` works."""
    plain = create_engine(f"sqlite:///{tmp_path / 'plain.db'}")
    try:
        _meta.create_all(plain)
        with plain.begin() as conn:
            bulk_insert(conn, PROBE, [{"id": "one", "value": "1"}])
            assert conn.scalar(select(PROBE.c.value)) == "1"
    finally:
        plain.dispose()


def test_ragged_columns_are_refused_after_the_earlier_insert_settles(tables: Engine) -> None:
    with tables.connect() as conn:
        conn.begin()
        running = bulk_insert(conn, PROBE, [{"id": f"r{i}", "value": str(i)} for i in range(5_000)], wait=False)
        with pytest.raises(ValueError, match="one value per row"):
            bulk_insert_columns(conn, WIDE, {"id": ["x", "y"], "a": ["1"]}, wait=False, after=running)
        conn.rollback()
    with tables.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(PROBE)) == 0


def test_columns_go_in_as_rows(tables: Engine) -> None:
    with tables.connect() as conn:
        conn.begin()
        bulk_insert_columns(conn, WIDE, {"id": ["c1", "c2"], "a": ["1", None], "b": [None, None]})
        assert sorted(conn.execute(select(WIDE.c.id, WIDE.c.a, WIDE.c.b)).all()) == [("c1", "1", None),
                                                                                    ("c2", None, None)]
        conn.rollback()


def test_one_of_needs_values_or_a_parameter_name() -> None:
    with pytest.raises(ValueError, match="one_of needs"):
        one_of(PROBE.c.value, None, "sqlite")
