"""The `archive` command line (typer). Long work shows a progress bar; `--help` everywhere."""

from __future__ import annotations

import json
import os
import secrets
import signal
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Annotated, NoReturn

import typer
from rich.console import Console
from rich.table import Table

from archive.auditing import Auditor
from archive.db import Database
from archive.errors import ArchiveError
from archive.identity.repository import IdentityRepository
from archive.identity.service import IdentityService, NewUser
from archive.migrate import schema_problem, upgrade
from archive.settings import Settings
from audit.events import AuditAction
from service.context import AppContext

app = typer.Typer(help="Secure customer archive: serve, seed the demo, manage users, keys and the audit log.",
                  no_args_is_help=True, pretty_exceptions_enable=False)
db_app = typer.Typer(help="Database schema.", no_args_is_help=True)
users_app = typer.Typer(help="Staff users and customer logins.", no_args_is_help=True)
departments_app = typer.Typer(help="Departments.", no_args_is_help=True)
app.add_typer(db_app, name="db")
app.add_typer(users_app, name="users")
app.add_typer(departments_app, name="departments")
audit_app = typer.Typer(help="The access log: verify it, sign checkpoints.", no_args_is_help=True)
app.add_typer(audit_app, name="audit")

out = Console()
err = Console(stderr=True)


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}")
    raise typer.Exit(code)


def _context() -> AppContext:
    settings = Settings()
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    return AppContext.from_settings(settings, Database.from_url(settings.database_url, pool_size=2))



# --- serving ---------------------------------------------------------------------------------
def _database_problem(settings: Settings) -> str | None:
    """Why the configured database cannot be served, in words an operator can act on."""
    from sqlalchemy.exc import SQLAlchemyError

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


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
) -> None:
    """Serve the HTTP API and console from an existing, migrated database."""
    import uvicorn

    settings = Settings()
    if settings.production:
        problems = settings.problems_for_production()
        if problems:
            fail("refusing to start in production:\n  - " + "\n  - ".join(problems)
                 + "\nSet these (or mount them under ARCHIVE_SECRETS_DIR) and start again.")
    if why := _database_problem(settings):
        fail(f"refusing to serve: {why}")
    out.print(f"Serving on http://{host}:{port} ({workers} worker{'s' if workers > 1 else ''}); docs at /docs")
    uvicorn.run("service.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_config=None, proxy_headers=False)


@app.command()
def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Seed the data directory and exit.")] = False,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Create the database and demo data under ARCHIVE_DATA_DIR, print the logins, serve."""
    from archive import demo as demo_data

    settings = Settings()
    if settings.production:
        fail("the demo never runs with ARCHIVE_ENV=production")
    ctx = _context()
    with out.status("Migrating the database…"):
        upgrade(ctx.db.engine)
    from crypto.keys import generate_local_keys

    generate_local_keys(settings.keys_dir)  # KEK v1 and blind-index keys, once
    password = (settings.server.demo_password.get_secret_value() if settings.server.demo_password
                else secrets.token_urlsafe(12))
    with out.status("Seeding demo data…"):
        logins = demo_data.seed(ctx.db, ctx.passwords, password)
        demo_data.seed_customers(ctx.db, ctx.key_ring, ctx.blind_index)
        today = datetime.now(settings.zone).date()
        demo_data.seed_contracts(ctx.db, today)
        demo_data.seed_documents(ctx.db, ctx.key_ring, ctx.blob_store, today)
    ctx.db.dispose()
    table = Table("username", "roles", "department", title="Demo logins")
    for login in logins:
        table.add_row(login.username, ", ".join(login.roles), login.department or "—")
    out.print(table)
    # Plain lines, never wrapped or cut, so scripts and people can copy them.
    print(f"Data directory: {settings.data_dir}")
    print(f"Password for every demo login: {password}")
    if no_serve:
        return
    out.print(f"Try: curl -d 'username=sales_rep&password={password}' http://{host}:{port}/api/v1/auth/token")
    serve(host=host, port=port, workers=1)


@db_app.command("upgrade")
def db_upgrade(revision: Annotated[str, typer.Argument(help="Target revision.")] = "head") -> None:
    """Apply schema migrations (Alembic) up to REVISION."""
    ctx = _context()
    upgrade(ctx.db.engine, revision)
    out.print(f"Database at {revision}.")


# --- users and departments ---------------------------------------------------------------------
def _run(action: Callable[[IdentityService], object], event: AuditAction | None = None) -> object:
    """Run one identity action as the `system` actor, audited, and chain the event before exit."""
    from archive.auditing import system_actor
    from audit.chain import integrate

    ctx = _context()
    try:
        with ctx.db.unit_of_work() as uow:
            result = action(IdentityService(IdentityRepository(uow.session), ctx.passwords))
            if event is not None:
                Auditor(system_actor()).record(uow.session, event, resource_type="user",
                                               resource_id=str(getattr(result, "id", "")))
    except ArchiveError as exc:
        fail(exc.detail + "".join(f"\n  {e.field}: {e.message}" for e in exc.errors))
    integrate(ctx.db.engine)
    return result


@users_app.command("add")
def users_add(
    username: str,
    roles: Annotated[list[str], typer.Option("--role", help="Role id; repeat for several.")],
    department: Annotated[str | None, typer.Option(help="Department code.")] = None,
    display_name: Annotated[str, typer.Option(help="Name shown to people.")] = "",
    password: Annotated[str | None, typer.Option(help="Initial password; prompted when omitted.",
                                                 envvar="ARCHIVE_NEW_USER_PASSWORD")] = None,
) -> None:
    """Add a staff user."""
    if password is None:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    _run(lambda svc: svc.add_user(NewUser(username=username, display_name=display_name, password=password,
                                          roles=roles, department_code=department)), AuditAction.USER_CREATED)
    out.print(f"Added {username}.")


@users_app.command("list")
def users_list() -> None:
    """List users with their roles and departments."""
    table = Table("username", "kind", "roles", "department", "disabled")

    def rows(svc: IdentityService) -> None:
        for u in svc.users(limit=10_000):
            table.add_row(u.username, u.kind, ", ".join(u.roles), u.department.code if u.department else "—",
                          "yes" if u.disabled else "")

    _run(rows)
    out.print(table)


@users_app.command("disable")
def users_disable(username: str) -> None:
    """Disable a user; their tokens stop working at once."""
    _run(lambda svc: svc.set_disabled(svc.user_by_username(username), True), AuditAction.USER_CHANGED)
    out.print(f"Disabled {username}.")


@users_app.command("set-roles")
def users_set_roles(username: str, roles: Annotated[list[str], typer.Argument(help="Role ids.")]) -> None:
    """Replace a user's roles (their old tokens stop working)."""
    _run(lambda svc: svc.set_roles(svc.user_by_username(username), roles), AuditAction.USER_CHANGED)
    out.print(f"{username}: {', '.join(sorted(roles))}.")


@users_app.command("revoke-sessions")
def users_revoke(username: str) -> None:
    """Revoke every token the user holds."""
    _run(lambda svc: svc.revoke_sessions(svc.user_by_username(username)), AuditAction.USER_SESSIONS_REVOKED)
    out.print(f"Revoked all sessions of {username}.")


@departments_app.command("add")
def departments_add(code: str, name: str) -> None:
    """Add a department."""
    _run(lambda svc: svc.add_department(code, name), AuditAction.DEPARTMENT_CREATED)
    out.print(f"Added department {code.upper()}.")


@departments_app.command("list")
def departments_list() -> None:
    """List departments."""
    table = Table("code", "name")

    def rows(svc: IdentityService) -> None:
        for d in svc.departments():
            table.add_row(d.code, d.name)

    _run(rows)
    out.print(table)


# --- the audit log ----------------------------------------------------------------------------
@audit_app.command("verify")
def audit_verify(
    against: Annotated[Path | None, typer.Option(help="A checkpoint file exported earlier and kept outside.",
                                                 exists=True, dir_okay=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute the hash chain and check every checkpoint signature. Exit 1 on any damage."""
    from archive.auditing import system_actor
    from archive.auditlog.service import verify_log

    ctx = _context()
    with out.status("Verifying the access log…"):
        report = verify_log(ctx.db, ctx.checkpoint_keys, Auditor(system_actor("cli:audit verify")), against=against)
    if as_json:
        print(json.dumps(report.to_json()))
    elif report.ok:
        out.print(f"[green]intact[/]: {report.checked} events chained, head {report.head_seq}, "
                  f"{report.checkpoints_checked} checkpoint(s) verified, {report.pending} pending")
    else:
        first = report.first
        assert first is not None
        err.print(f"[bold red]DAMAGED[/] at sequence {first.seq}: {first.kind} — {first.detail}")
    raise typer.Exit(0 if report.ok else 1)


@audit_app.command("checkpoint")
def audit_checkpoint(
    export: Annotated[Path | None, typer.Option(help="Also write the signed checkpoint to this file.")] = None,
) -> None:
    """Sign the current head of the chain (Ed25519) and store the checkpoint."""
    from archive.auditing import system_actor
    from archive.auditlog.service import make_checkpoint

    ctx = _context()
    with ctx.db.engine.begin() as conn:
        checkpoint = make_checkpoint(conn, ctx.checkpoint_keys, Auditor(system_actor("cli:audit checkpoint")))
    if checkpoint is None:
        fail("the log is empty: nothing to sign")
    if export:
        from audit.checkpoints import export as export_file

        export_file(checkpoint, export)
    out.print(f"Checkpoint at sequence {checkpoint.seq} signed with {checkpoint.key_id}"
              + (f", exported to {export}" if export else ""))


# --- keys ---------------------------------------------------------------------------------------
keys_app = typer.Typer(help="Key-encryption keys: status, rotate, rewrap, retire.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")


def _key_ring(ctx: AppContext):  # type: ignore[no-untyped-def]
    from archive.datakeys import SqlKeyStore
    from crypto.keyring import KeyRing
    from crypto.keys import LocalKeyProvider, generate_local_keys

    if not ctx.settings.production:
        generate_local_keys(ctx.settings.keys_dir)
    return KeyRing(LocalKeyProvider(ctx.settings.keys_dir), SqlKeyStore(ctx.db.engine))


def _system_grant(ring, reason: str):  # type: ignore[no-untyped-def]
    # TODO(#26 gate): system grant from the gate (minted and audited there, actor = system).
    from crypto.grants import GrantAuthority, GrantKind

    authority = GrantAuthority()
    ring.trust(authority)
    return authority.mint(GrantKind.SYSTEM, customer_ids=None, fields=None, reason=reason)


def _key_event(ctx: AppContext, action: AuditAction, command: str, **extra: str) -> None:
    """Key operations run as the `system` actor (command and OS user) and are audited."""
    from archive.auditing import system_actor
    from audit.chain import integrate

    with ctx.db.unit_of_work() as uow:
        Auditor(system_actor(f"cli:keys {command}")).record(uow.session, action, resource_type="kek", extra=extra)
    integrate(ctx.db.engine)


@keys_app.command("status")
def keys_status() -> None:
    """KEK versions, their state and how many data keys each still wraps."""
    ctx = _context()
    status = _key_ring(ctx).status()
    table = Table("KEK version", "state", "material", "data keys", title=f"active KEK: v{status.active_kek}")
    for kek in status.keks:
        table.add_row(f"v{kek.version}", kek.state, "yes" if kek.has_material else "deleted", str(kek.data_keys))
    out.print(table)
    out.print(f"{status.pending_rewrap} data key(s) wrapped under an older KEK (run `archive keys rewrap`).")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make a new KEK version active. Existing data keys keep working; rewrap them next."""
    ctx = _context()
    version = _key_ring(ctx).rotate_kek()
    _key_event(ctx, AuditAction.KEY_ROTATED, "rotate", kek_version=str(version))
    out.print(f"KEK v{version} is now active.")


@keys_app.command("rewrap")
def keys_rewrap(batch: Annotated[int, typer.Option(help="Data keys per batch.", min=1)] = 500) -> None:
    """Re-wrap every data key under the active KEK (data untouched; resumable, idempotent)."""
    from rich.progress import Progress

    ctx = _context()
    ring = _key_ring(ctx)
    with Progress(console=out) as progress:
        task = progress.add_task("Re-wrapping data keys", total=None)

        def report(p):  # type: ignore[no-untyped-def]
            progress.update(task, completed=p.done, total=p.total)

        result = ring.rewrap(_system_grant(ring, "keys rewrap"), batch=batch, progress=report)
    _key_event(ctx, AuditAction.KEY_REWRAPPED, "rewrap", kek_version=str(result.active_kek),
               rewrapped=str(result.rewrapped), failed=str(len(result.failed)))
    out.print(f"Re-wrapped {result.rewrapped} data key(s) under KEK v{result.active_kek}.")
    if result.failed:
        fail(f"{len(result.failed)} data key(s) would not unwrap; run again after checking the key files")


@keys_app.command("retire")
def keys_retire(version: Annotated[int, typer.Argument(help="KEK version to retire.")]) -> None:
    """Retire a KEK version; refused while anything still depends on it."""
    from crypto.errors import KeyStillInUse

    ctx = _context()
    try:
        _key_ring(ctx).retire_kek(version)
    except KeyStillInUse as exc:
        fail(f"KEK v{version} is still in use ({exc}); run `archive keys rewrap` first")
    _key_event(ctx, AuditAction.KEY_RETIRED, "retire", kek_version=str(version))
    out.print(f"KEK v{version} retired.")


# --- policies ------------------------------------------------------------------------------------
policy_app = typer.Typer(help="Access policies (policies/).", no_args_is_help=True)
app.add_typer(policy_app, name="policy")


@policy_app.command("check")
def policy_check(
    directory: Annotated[Path | None, typer.Argument(
        help="Policy directory (default: ARCHIVE_POLICY_DIR, else policies/).")] = None,
) -> None:
    """Validate the policy files: unknown roles, purposes or actions, rules that never match,
    purposes no role may use. Exit 1 on any error."""
    from archive.policy.check import main as check_main

    directory = directory or Settings().policy_dir
    raise typer.Exit(check_main([str(directory)] if directory else []))


def _policy_db(settings: Settings) -> Database:
    """The database alone: a broken policy file must not stop the commands that report it."""
    if why := _database_problem(settings):
        fail(why)
    return Database.from_url(settings.database_url, pool_size=1)


@policy_app.command("release")
def policy_release(
    note: Annotated[str, typer.Option(help="Why; kept with the release and in its audit event.")] = "",
) -> None:
    """Check the policy files (ARCHIVE_POLICY_DIR, default policies/) as `archive policy check`
    does and record their version as the policy in force, audited. Every `archive serve` process
    reloads within ARCHIVE_POLICY_POLL_SECONDS, without a restart. Refused on any error."""
    from archive.auditing import system_actor
    from archive.policy.publish import release_policy
    from audit.chain import integrate

    settings = Settings()
    db = _policy_db(settings)
    try:
        with db.unit_of_work() as uow:
            release, warnings = release_policy(uow.session, settings.policy_dir,
                                               Auditor(system_actor("cli:policy release")), note=note)
    except ArchiveError as exc:
        fail(exc.detail + "".join(f"\n  {e.field}: {e.message}" for e in exc.errors))
    integrate(db.engine)
    db.dispose()
    for warning in warnings:
        err.print(f"warning: {warning}")
    print(f"Released policy {release.version} from {settings.policy_dir}.")
    print(f"Every `archive serve` process picks it up within {settings.policy.policy_poll_seconds:g} s "
          "(ARCHIVE_POLICY_POLL_SECONDS); `archive policy status` compares the files on a host with it.")


@policy_app.command("status")
def policy_status_command() -> None:
    """The version of the policy files here, the newest release, and whether they match.
    Exit 1 when they differ (serving processes here keep the policy they hold)."""
    from archive.policy.publish import policy_status

    settings = Settings()
    db = _policy_db(settings)
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


# --- the scheduler ---------------------------------------------------------------------------
@app.command()
def worker(
    tick: Annotated[float | None, typer.Option(help="Seconds between ticks (default from settings).")] = None,
    once: Annotated[bool, typer.Option(help="Run one tick and exit.")] = False,
) -> None:
    """Run scheduled jobs. Several workers elect one leader, so nothing runs twice."""
    from archive.jobs.scheduler import serve_forever

    settings = Settings()
    if why := _database_problem(settings):
        fail(f"refusing to run: {why}")
    ctx = _context()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve_forever(ctx.db, tick_seconds=tick or settings.worker.worker_tick_seconds,
                  lock_path=settings.data_dir / "worker.lock", keys_dir=settings.keys_dir, once=once)


# --- blobs ------------------------------------------------------------------------------------
blobs_app = typer.Typer(help="The encrypted document blob store.", no_args_is_help=True)
app.add_typer(blobs_app, name="blobs")


@blobs_app.command("check")
def blobs_check() -> None:
    """List orphan blobs (no document row) and missing blobs (a row without its blob); exit 1
    when there are any. A very recent orphan may be an upload still in flight. The check is
    audited as the `system` actor, with its counts (blob keys are document ids, never content)."""
    from archive.auditing import system_actor
    from archive.documents.repository import DocumentRepository
    from archive.documents.service import check_blobs
    from audit.chain import integrate

    if why := _database_problem(Settings()):
        fail(why)
    ctx = _context()
    with ctx.db.session_factory() as session:
        result = check_blobs(DocumentRepository(session), ctx.blob_store)
    with ctx.db.unit_of_work() as uow:
        Auditor(system_actor("cli:blobs check")).record(
            uow.session, AuditAction.BLOBS_CHECKED, resource_type="blob_store",
            extra={"blobs": str(result.stored), "documents": str(result.rows), "orphans": str(len(result.orphans)),
                   "missing": str(len(result.missing))})
    integrate(ctx.db.engine)
    ctx.db.dispose()
    for label, keys in (("orphan blob (no document row)", result.orphans),
                        ("missing blob (document row without it)", result.missing)):
        for key in keys:
            print(f"{label}: {key}")
    out.print(f"{ctx.blob_store!r}: {result.stored} blobs, {result.rows} documents, "
              f"{len(result.orphans)} orphan, {len(result.missing)} missing")
    if not result.clean:
        raise typer.Exit(1)


def _register_subcommands() -> None:
    from service.cli_import import import_app

    app.add_typer(import_app, name="import")


_register_subcommands()


def main() -> None:
    from service.logging import configure

    settings_env = os.environ.get("ARCHIVE_ENV", "development")
    configure(json=settings_env == "production", level=os.environ.get("ARCHIVE_LOG_LEVEL", "WARNING"))
    app()
