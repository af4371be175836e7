"""`archive users`: staff users and customer logins, managed as the `system` actor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import out, run_identity

if TYPE_CHECKING:
    from archive.identity.service import IdentityService

app = typer.Typer(help="Staff users and customer logins.", no_args_is_help=True)


@app.command("add")
def users_add(
    username: str,
    roles: Annotated[list[str], typer.Option("--role", help="Role id; repeat for several.")],
    department: Annotated[str | None, typer.Option(help="Department code.")] = None,
    display_name: Annotated[str, typer.Option(help="Name shown to people.")] = "",
    password: Annotated[str | None, typer.Option(help="Initial password; prompted when omitted.",
                                                 envvar="ARCHIVE_NEW_USER_PASSWORD")] = None,
) -> None:
    """Add a staff user."""
    from archive.identity.service import NewUser
    from audit.events import AuditAction

    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    run_identity(lambda svc: svc.add_user(NewUser(username=username, display_name=display_name, password=password,
                                                  roles=roles, department_code=department)),
                 AuditAction.USER_CREATED)
    out.print(f"Added {username}.")


@app.command("list")
def users_list() -> None:
    """List users with their roles and departments."""
    from rich.table import Table

    table = Table("username", "kind", "roles", "department", "disabled")

    def rows(svc: IdentityService) -> None:
        for u in svc.users(limit=10_000):
            table.add_row(u.username, u.kind, ", ".join(u.roles), u.department.code if u.department else "—",
                          "yes" if u.disabled else "")

    run_identity(rows)
    out.print(table)


@app.command("disable")
def users_disable(username: str) -> None:
    """Disable a user; their tokens stop working at once."""
    from audit.events import AuditAction

    run_identity(lambda svc: svc.set_disabled(svc.user_by_username(username), True), AuditAction.USER_CHANGED)
    out.print(f"Disabled {username}.")


@app.command("set-roles")
def users_set_roles(username: str, roles: Annotated[list[str], typer.Argument(help="Role ids.")]) -> None:
    """Replace a user's roles (their old tokens stop working)."""
    from audit.events import AuditAction

    run_identity(lambda svc: svc.set_roles(svc.user_by_username(username), roles), AuditAction.USER_CHANGED)
    out.print(f"{username}: {', '.join(sorted(roles))}.")


@app.command("revoke-sessions")
def users_revoke(username: str) -> None:
    """Revoke every token the user holds."""
    from audit.events import AuditAction

    run_identity(lambda svc: svc.revoke_sessions(svc.user_by_username(username)),
                 AuditAction.USER_SESSIONS_REVOKED)
    out.print(f"Revoked all sessions of {username}.")
