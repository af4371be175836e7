"""`archive db`: the database schema."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import context, out

app = typer.Typer(help="Database schema.", no_args_is_help=True)


@app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply schema migrations (Alembic) up to REVISION."""
    from archive.migrate import upgrade

    ctx = context()
    upgrade(ctx.db.engine, revision)
    out.print(f"Database at {revision}.")
