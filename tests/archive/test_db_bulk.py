"""The bulk-import plumbing in archive/db.py, on SQLite and PostgreSQL: `one_of` finds exactly
the rows whose value is in a list, whatever the values hold (quotes, backslashes, commas,
braces, the word NULL), and `bulk_insert` stores exactly the rows it is given."""

from __future__ import annotations

import uuid

from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy import Column, Engine, LargeBinary, MetaData, String, Table, cast, literal, select
from sqlalchemy.sql import ColumnElement

from archive.db import bulk_insert, one_of

_meta = MetaData()
PROBE = Table("test_bulk_probe", _meta, Column("id", String(36), primary_key=True), Column("value", String(200)),
              Column("blob", LargeBinary))

AWKWARD = ['a', 'b"c', "d\\e", "x,y", "{z}", " sp ", "NULL", "", "中文", "it's", "\\\"", "}{,"]
texts = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=20)


def _fresh(engine: Engine) -> None:
    _meta.drop_all(engine, checkfirst=True)
    _meta.create_all(engine)


def test_one_of_matches_exactly_the_listed_values(engine: Engine) -> None:
    _fresh(engine)
    try:
        with engine.begin() as conn:
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
    finally:
        _meta.drop_all(engine)


@hypothesis_settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(texts, min_size=1, max_size=8, unique=True), probe=texts)
def test_one_of_agrees_with_python_membership(engine: Engine, values: list[str], probe: str) -> None:
    with engine.connect() as conn:
        stmt = select(one_of(_literal(probe), values, conn.dialect.name))
        found = conn.scalar(stmt)
    assert bool(found) == (probe in values)


def _literal(value: str) -> ColumnElement[str]:
    return cast(literal(value, String), String)
