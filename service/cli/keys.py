"""`archive keys`: key-encryption keys — status, rotate, rewrap, retire. Each change is audited
as the `system` actor; a rewrap opens data keys against a system grant from the gate."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import context, fail, out, system_auditor

if TYPE_CHECKING:
    from audit.events import AuditAction
    from crypto.keyring import RewrapProgress
    from service.context import AppContext

app = typer.Typer(help="Key-encryption keys: status, rotate, rewrap, retire.", no_args_is_help=True)


def _key_event(ctx: AppContext, action: AuditAction, command: str, **extra: str) -> None:
    """Key operations run as the `system` actor (command and OS user) and are audited."""
    from audit.chain import integrate

    with ctx.db.unit_of_work() as uow:
        system_auditor(ctx, f"cli:keys {command}").record(uow.session, action, resource_type="kek", extra=extra)
    integrate(ctx.db.engine)


@app.command("status")
def keys_status() -> None:
    """KEK versions, their state and how many data keys each still wraps."""
    from rich.table import Table

    ctx = context()
    status = ctx.key_ring.status()
    table = Table("KEK version", "state", "material", "data keys", title=f"active KEK: v{status.active_kek}")
    for kek in status.keks:
        table.add_row(f"v{kek.version}", kek.state, "yes" if kek.has_material else "deleted", str(kek.data_keys))
    out.print(table)
    out.print(f"{status.pending_rewrap} data key(s) wrapped under an older KEK (run `archive keys rewrap`).")


@app.command("rotate")
def keys_rotate() -> None:
    """Make a new KEK version active. Existing data keys keep working; rewrap them next."""
    from audit.events import AuditAction

    ctx = context()
    version = ctx.key_ring.rotate_kek()
    _key_event(ctx, AuditAction.KEY_ROTATED, "rotate", kek_version=str(version))
    out.print(f"KEK v{version} is now active.")


@app.command("rewrap")
def keys_rewrap(batch: Annotated[int, typer.Option(help="Data keys per batch.", min=1)] = 500) -> None:
    """Re-wrap every data key under the active KEK (data untouched; resumable, idempotent)."""
    from rich.progress import Progress

    from audit.events import AuditAction

    ctx = context()
    with ctx.db.unit_of_work() as uow:  # the grant exists once its event is committed
        admission = ctx.gate.system(uow, system_auditor(ctx, "cli:keys rewrap"), AuditAction.KEY_REWRAPPED,
                                    reason="re-wrap every data key under the active KEK")
    with Progress(console=out) as progress:
        task = progress.add_task("Re-wrapping data keys", total=None)

        def report(p: RewrapProgress) -> None:
            progress.update(task, completed=p.done, total=p.total)

        result = ctx.key_ring.rewrap(admission.grant, batch=batch, progress=report)
    _key_event(ctx, AuditAction.KEY_REWRAPPED, "rewrap", kek_version=str(result.active_kek),
               rewrapped=str(result.rewrapped), failed=str(len(result.failed)))
    out.print(f"Re-wrapped {result.rewrapped} data key(s) under KEK v{result.active_kek}.")
    if result.failed:
        fail(f"{len(result.failed)} data key(s) would not unwrap; run again after checking the key files")


@app.command("retire")
def keys_retire(version: Annotated[int, typer.Argument(help="KEK version to retire.")]) -> None:
    """Retire a KEK version; refused while anything still depends on it."""
    from audit.events import AuditAction
    from crypto.errors import KeyStillInUse

    ctx = context()
    try:
        ctx.key_ring.retire_kek(version)
    except KeyStillInUse as exc:
        fail(f"KEK v{version} is still in use ({exc}); run `archive keys rewrap` first")
    _key_event(ctx, AuditAction.KEY_RETIRED, "retire", kek_version=str(version))
    out.print(f"KEK v{version} retired.")
