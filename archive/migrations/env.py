"""Alembic environment: runs on the connection `archive/migrations/runner.py` hands in, or
builds an engine from the settings when `alembic` is run by hand."""

from __future__ import annotations

from typing import Literal

from alembic import context

from archive import models_registry  # noqa: F401  (imports every model so metadata is complete)
from archive.db import Base, make_engine
from audit import tables as audit_tables

config = context.config
target_metadata = [Base.metadata, audit_tables.metadata]


def run() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _migrate(connection)
        return
    from archive.settings import Settings

    engine = make_engine(Settings().database_url, pool_size=0)
    with engine.connect() as conn:
        _migrate(conn)
    engine.dispose()


def _render_item(type_: str, obj: object, autogen_context: object) -> str | Literal[False]:
    """Render our UTC type as a plain timestamp, so migrations never import app code."""
    from archive.db import UTCDateTime

    if type_ == "type" and isinstance(obj, UTCDateTime):
        return "sa.DateTime(timezone=True)"
    return False


def _migrate(connection) -> None:  # type: ignore[no-untyped-def]
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        render_item=_render_item,
    )
    with context.begin_transaction():
        context.run_migrations()


run()
