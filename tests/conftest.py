"""Shared fixtures: real databases built by the migrations, rolled back per test.

Every storage test runs on SQLite and, when ARCHIVE_TEST_DATABASE_URL is set, on PostgreSQL.
Because the audit tables refuse DELETE and TRUNCATE, each test run (each xdist worker) creates
its own PostgreSQL database with a random name and drops it at the end.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import sessionmaker

from archive.db import Database, make_engine
from archive.migrate import upgrade
from tests.support import TEST_ENV, ApiClient, make_context

hypothesis_settings.register_profile("ci", deadline=None, max_examples=60, print_blob=True)
hypothesis_settings.register_profile("dev", deadline=None, max_examples=30)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") else "dev")

PG_URL = os.environ.get("ARCHIVE_TEST_DATABASE_URL")


def pytest_configure(config: pytest.Config) -> None:
    for key, value in TEST_ENV.items():
        os.environ.setdefault(key, value)


def _admin_engine(url: str) -> Engine:
    return create_engine(url, isolation_level="AUTOCOMMIT", poolclass=None)


@pytest.fixture(scope="session")
def pg_database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this run (or this xdist worker), dropped at the end."""
    if not PG_URL:
        pytest.skip("ARCHIVE_TEST_DATABASE_URL is not set: PostgreSQL tests need a server")
    name = f"archive_test_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(PG_URL)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(PG_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="session")
def sqlite_engine(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Engine]:
    path: Path = tmp_path_factory.mktemp("sqlite") / "archive.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def pg_engine(pg_database_url: str) -> Iterator[Engine]:
    engine = make_engine(pg_database_url, pool_size=5)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest) -> Engine:
    """The migrated engine of each database in turn."""
    fixture = "sqlite_engine" if request.param == "sqlite" else "pg_engine"
    return request.getfixturevalue(fixture)  # type: ignore[no-any-return]


@pytest.fixture
def db(engine: Engine) -> Iterator[Database]:
    """A Database whose sessions all join one outer transaction, rolled back after the test:
    commits inside the test only release savepoints."""
    connection = engine.connect()
    outer = connection.begin()
    factory = sessionmaker(bind=connection, expire_on_commit=False, join_transaction_mode="create_savepoint")
    try:
        yield Database(engine, session_factory=factory)
    finally:
        outer.rollback()
        connection.close()


@pytest.fixture
def ctx(db: Database, tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_context(db, tmp_path)


@pytest.fixture
def api(ctx) -> ApiClient:  # type: ignore[no-untyped-def]
    from service.app import create_app

    return ApiClient(create_app(ctx))
