"""The `archive` command line: one module per command group (serve, demo, db, users,
departments, audit, keys, policy, worker, blobs, import), put together in `service.cli.app`.

Kept light: `archive --help` imports typer and these modules only. The database, the web
framework, the crypto and the archive's services are imported inside the command that uses
them."""

from __future__ import annotations


def main() -> None:
    """The `archive` entry point (pyproject.toml [project.scripts])."""
    from service.cli.app import main as run

    run()
