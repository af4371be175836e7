"""Schema migrations, run programmatically: `archive db upgrade`, tests, and the start-up check
that refuses to serve a database whose schema is not current. Imported as `archive.migrate`.

An upgrade runs in one transaction of its own, on a connection handed to Alembic (its
documented way of sharing one); this is the one place outside archive/db.py that opens one."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine

MIGRATIONS = Path(__file__).resolve().parent


def _config() -> Config:
    config = Config(str(MIGRATIONS / "alembic.ini"))
    config.set_main_option("script_location", str(MIGRATIONS))
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    config = _config()
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def head_revision() -> str | None:
    return ScriptDirectory.from_config(_config()).get_current_head()


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def schema_problem(engine: Engine) -> str | None:
    """Why this database must not be served yet, or None when its schema is current."""
    current, head = current_revision(engine), head_revision()
    if current == head:
        return None
    if current is None:
        return "the database has no schema yet: run `archive db upgrade` (or `archive demo`) first"
    return f"the database schema is at {current}, the code needs {head}: run `archive db upgrade`"
