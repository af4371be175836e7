"""The bulk-import plumbing (archive/bulk.py), on SQLite and PostgreSQL: `one_of` finds exactly
the rows whose value is in a list, whatever the values hold (quotes, backslashes, commas,
braces, the word NULL), and `insert_rows` stores exactly the rows it is given, in the caller's
transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, cast, literal, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.sql import ColumnElement

from archive.bulk import insert_rows, one_of

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
        insert_rows(conn, PROBE, rows)
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
             Column("b", LargeBinary), Column("c", String(20), server_default="dflt"))


def test_insert_rows_stores_each_row_and_null_where_a_row_names_no_value(tables: Engine) -> None:
    rows = [{"id": "1", "a": "x", "b": b"\x00\xff"}, {"id": "2", "b": b"y"}, {"id": "3", "a": None, "c": "given"}]
    with tables.begin() as conn:
        insert_rows(conn, WIDE, rows)
        insert_rows(conn, WIDE, [])
        stored = conn.execute(select(WIDE).order_by(WIDE.c.id)).all()
    assert [tuple(r) for r in stored] == [("1", "x", b"\x00\xff", None), ("2", None, b"y", None),
                                          ("3", None, None, "given")]


def test_insert_rows_is_part_of_the_callers_transaction(tables: Engine) -> None:
    with tables.begin() as conn:
        insert_rows(conn, PROBE, [{"id": "kept", "value": "1"}])
    with pytest.raises(IntegrityError), tables.begin() as conn:
        insert_rows(conn, PROBE, [{"id": "fresh", "value": "2"}, {"id": "kept", "value": "again"}])
    with tables.connect() as conn:
        assert conn.execute(select(PROBE.c.id, PROBE.c.value)).all() == [("kept", "1")]  # all or nothing


def test_one_of_needs_values_or_a_parameter_name() -> None:
    with pytest.raises(ValueError, match="one_of needs"):
        one_of(PROBE.c.value, None, "sqlite")
