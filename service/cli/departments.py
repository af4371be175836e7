"""`archive departments`: the departments staff belong to."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from service.cli.common import out, run_identity

if TYPE_CHECKING:
    from archive.identity.service import IdentityService

app = typer.Typer(help="Departments.", no_args_is_help=True)


@app.command("add")
def departments_add(code: str, name: str) -> None:
    """Add a department."""
    from audit.events import AuditAction

    run_identity(lambda svc: svc.add_department(code, name), AuditAction.DEPARTMENT_CREATED)
    out.print(f"Added department {code.upper()}.")


@app.command("list")
def departments_list() -> None:
    """List departments."""
    from rich.table import Table

    table = Table("code", "name")

    def rows(svc: IdentityService) -> None:
        for d in svc.departments():
            table.add_row(d.code, d.name)

    run_identity(rows)
    out.print(table)
