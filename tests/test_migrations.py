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
