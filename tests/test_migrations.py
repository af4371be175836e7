"""The schema is built by Alembic, and the service refuses an un-migrated database."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from archive.db import Base, make_engine
from archive.migrate import head_revision, schema_problem, upgrade
from service.app import UnmigratedDatabase, create_app
from tests.support import ApiClient, make_context


def test_migrations_build_every_table_of_the_models(engine):
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert schema_problem(engine) is None


def test_empty_database_is_refused_with_a_clear_message(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")
    assert "archive db upgrade" in schema_problem(engine)
    from archive.db import Database

    app = create_app(make_context(Database(engine), tmp_path))
    from contextlib import asynccontextmanager  # noqa: F401

    import anyio

    async def start() -> None:
        async with app.router.lifespan_context(app):
            pass

    with pytest.raises(UnmigratedDatabase, match="archive db upgrade"):
        anyio.run(start)
    upgrade(engine)
    assert schema_problem(engine) is None and head_revision()
    assert ApiClient(app).get("/readyz").status_code == 200
    engine.dispose()


def test_0010_clears_the_blind_index_of_public_names(tmp_path):
    """Company names are compared in clear from 0010 on; an index value an older release wrote
    for one is cleared, so an individual's name meets the same names whenever a company came."""
    from sqlalchemy import text

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    upgrade(engine, "0009")
    with engine.begin() as conn:
        conn.execute(text("INSERT INTO departments (id, code, name, created_at) VALUES "
                          "('0' || hex(randomblob(15)), 'SALES', 'Sales', CURRENT_TIMESTAMP)"))
        department = conn.execute(text("SELECT id FROM departments")).scalar_one()
        for code, kind in (("C-OLD1", "enterprise"), ("C-OLD2", "individual")):
            conn.execute(text("INSERT INTO customers (id, code, kind, status, department_id, verification_status, "
                              "risk_level, version, created_at, updated_at, name_bidx) VALUES (:id, :code, :kind, "
                              "'active', :department, 'unverified', 'unassessed', 1, CURRENT_TIMESTAMP, "
                              "CURRENT_TIMESTAMP, :bidx)"),
                         {"id": code.replace("-", "").ljust(32, "0"), "code": code, "kind": kind,
                          "department": department, "bidx": "0001" + "ab" * 16})
    upgrade(engine)
    with engine.connect() as conn:
        left = dict(conn.execute(text("SELECT code, name_bidx FROM customers")).all())
    assert left == {"C-OLD1": None, "C-OLD2": "0001" + "ab" * 16}
    engine.dispose()
