"""The root `archive` command: its commands and groups, in the order `--help` lists them."""

from __future__ import annotations

import os

import typer

from service.cli import audit, blobs, db, demo, departments, imports, keys, policy, serve, users, worker

app = typer.Typer(help="Secure customer archive: serve, seed the demo, manage users, keys and the audit log.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
app.command()(serve.serve)
app.command()(demo.demo)
app.command()(worker.worker)
app.add_typer(db.app, name="db")
app.add_typer(users.app, name="users")
app.add_typer(departments.app, name="departments")
app.add_typer(audit.app, name="audit")
app.add_typer(keys.app, name="keys")
app.add_typer(policy.app, name="policy")
app.add_typer(blobs.app, name="blobs")
app.add_typer(imports.app, name="import")


def main() -> None:
    from service.logging import configure

    settings_env = os.environ.get("ARCHIVE_ENV", "development")
    configure(json=settings_env == "production", level=os.environ.get("ARCHIVE_LOG_LEVEL", "WARNING"))
    app()
