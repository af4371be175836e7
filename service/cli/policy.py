"""`archive policy`: check the policy files, release them, compare them with the release."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import database_alone, err, fail_with

app = typer.Typer(help="Access policies (policies/).", no_args_is_help=True)


@app.command("check")
def policy_check(
    directory: Annotated[Path | None, typer.Argument(
        help="Policy directory (default: ARCHIVE_POLICY_DIR, else policies/).")] = None,
) -> None:
    """Validate the policy files: unknown roles, purposes or actions, rules that never match,
    purposes no role may use. Exit 1 on any error."""
    from archive.policy.check import main as check_main
    from archive.settings import Settings

    directory = directory or Settings().policy_dir
    raise typer.Exit(check_main([str(directory)] if directory else []))


@app.command("release")
def policy_release(
    note: Annotated[str, typer.Option(help="Why; kept with the release and in its audit event.")] = "",
) -> None:
    """Check the policy files (ARCHIVE_POLICY_DIR, default policies/) as `archive policy check`
    does and record their version as the policy in force, audited. Every `archive serve` process
    reloads within ARCHIVE_POLICY_POLL_SECONDS, without a restart. Refused on any error."""
    from archive.auditing import Auditor, system_actor
    from archive.errors import ArchiveError
    from archive.policy.publish import release_policy
    from archive.settings import Settings
    from audit.chain import integrate

    settings = Settings()
    db = database_alone(settings)
    try:
        with db.unit_of_work() as uow:
            # The release event names the version released (release_policy gives it).
            release, warnings = release_policy(uow.session, settings.policy_dir,
                                               Auditor(system_actor("cli:policy release")), note=note)
    except ArchiveError as exc:
        fail_with(exc)
    integrate(db.engine)
    db.dispose()
    for warning in warnings:
        err.print(f"warning: {warning}")
    print(f"Released policy {release.version} from {settings.policy_dir}.")
    print(f"Every `archive serve` process picks it up within {settings.policy.policy_poll_seconds:g} s "
          "(ARCHIVE_POLICY_POLL_SECONDS); `archive policy status` compares the files on a host with it.")


@app.command("status")
def policy_status_command() -> None:
    """The version of the policy files here, the newest release, and whether they match.
    Exit 1 when they differ (serving processes here keep the policy they hold)."""
    from archive.policy.publish import policy_status
    from archive.settings import Settings

    settings = Settings()
    db = database_alone(settings)
    with db.engine.connect() as conn:
        state = policy_status(conn, settings.policy_dir)
    db.dispose()
    print(f"Files here: {state.files_version} ({settings.policy_dir})")
    released = state.released
    if released is None:
        print("Released: none yet; every process decides with the files it loaded at start.")
        return
    when = released.released_at.astimezone(settings.zone).isoformat(timespec="seconds")
    print(f"Released: {released.version} by {released.released_by} at {when}"
          + (f" ({released.note})" if released.note else ""))
    if state.files_released:
        print("Match: the files here are the released policy.")
        return
    err.print("[bold red]Differ:[/] the files here are not the released policy. Serving processes on this host "
              "keep the policy they hold; deploy the released files here, or release these.")
    raise typer.Exit(1)
