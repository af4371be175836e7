"""What the commands share: the two consoles, failing with a message an operator can act on,
the process's context, and the auditor of a command run by the `system` actor."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console

if TYPE_CHECKING:
    from archive.auditing import Auditor
    from archive.db import Database
    from archive.errors import ArchiveError
    from archive.identity.service import IdentityService
    from archive.settings import Settings
    from audit.events import AuditAction
    from service.context import AppContext

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def fail_with(error: ArchiveError) -> NoReturn:
    """An archive refusal, with each field problem on a line of its own."""
    fail(error.detail + "".join(f"\n  {e.field}: {e.message}" for e in error.errors))


def context() -> AppContext:
    from archive.db import Database
    from archive.settings import Settings
    from service.context import AppContext

    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return AppContext.from_settings(settings, Database.from_url(settings.database_url, pool_size=2))


def system_auditor(ctx: AppContext, command: str | None = None) -> Auditor:
    """Events of a command run as the `system` actor (the command and the OS user), naming the
    policy this process loaded."""
    from archive.auditing import Auditor, system_actor

    return Auditor(system_actor(command), policy_version=ctx.policy.version)


def database_problem(settings: Settings) -> str | None:
    """Why the configured database cannot be served, in words an operator can act on."""
    from sqlalchemy.exc import SQLAlchemyError

    from archive.db import Database
    from archive.migrate import schema_problem

    if not settings.database.database_url and not (settings.data_dir / "archive.db").exists():
        return (f"there is no database in {settings.data_dir}: run `archive demo --no-serve` "
                "or `archive db upgrade` first (or set ARCHIVE_DATA_DIR)")
    db = Database.from_url(settings.database_url, pool_size=1)
    try:
        return schema_problem(db.engine)
    except SQLAlchemyError as exc:
        return f"cannot reach the database ({type(exc).__name__}); check ARCHIVE_DATABASE_URL"
    finally:
        db.dispose()


def database_alone(settings: Settings) -> Database:
    """The database without the rest of the context (a broken policy file must not stop the
    commands that report it)."""
    from archive.db import Database

    if why := database_problem(settings):
        fail(why)
    return Database.from_url(settings.database_url, pool_size=1)


def run_identity(action: Callable[[IdentityService], object], event: AuditAction | None = None) -> object:
    """Run one identity action as the `system` actor, audited, and chain the event before exit."""
    from archive.errors import ArchiveError
    from archive.identity.repository import IdentityRepository
    from archive.identity.service import IdentityService
    from audit.chain import integrate

    ctx = context()
    try:
        with ctx.db.unit_of_work() as uow:
            result = action(IdentityService(IdentityRepository(uow.session), ctx.passwords))
            if event is not None:
                system_auditor(ctx).record(uow.session, event, resource_type="user",
                                           resource_id=str(getattr(result, "id", "")))
    except ArchiveError as exc:
        fail_with(exc)
    integrate(ctx.db.engine)
    return result
