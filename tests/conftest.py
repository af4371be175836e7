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


@pytest.fixture
def committed_pg_engine(pg_database_url: str) -> Iterator[Engine]:
    """A migrated PostgreSQL database of its own, for tests that must really commit (the
    audit tables cannot be cleaned afterwards). Dropped at the end of the test."""
    name = f"archive_commit_{uuid.uuid4().hex[:12]}"
    admin = _admin_engine(pg_database_url)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(pg_database_url).set(database=name).render_as_string(hide_password=False),
                         pool_size=10)
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
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
    yield from _rolled_back(engine)


@pytest.fixture
def pg_db(pg_engine: Engine) -> Iterator[Database]:
    """As `db`, on PostgreSQL only (for what SQLite does not have, e.g. TRUNCATE)."""
    yield from _rolled_back(pg_engine)


def _rolled_back(engine: Engine) -> Iterator[Database]:
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


# --- counting the PostgreSQL tests (CI fails when none ran or some were skipped) ----------------
PG_FIXTURES = {"pg_engine", "pg_database_url", "committed_pg_engine", "pg_db"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        callspec = getattr(item, "callspec", None)
        on_pg = callspec is not None and callspec.params.get("engine") == "postgresql"
        if on_pg or PG_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker("postgresql")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:  # type: ignore[no-untyped-def]
    counts = {"passed": 0, "skipped": 0, "failed": 0}
    for outcome in counts:
        for report in terminalreporter.stats.get(outcome, []):
            if "postgresql" in getattr(report, "keywords", {}) and (report.when == "call" or outcome == "skipped"):
                counts[outcome] += 1
    terminalreporter.write_line(
        f"PostgreSQL tests: {counts['passed']} passed, {counts['skipped']} skipped, {counts['failed']} failed")
