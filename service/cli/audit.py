"""`archive audit`: verify the access log, sign checkpoints."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from service.cli.common import context, err, fail, out, system_auditor

app = typer.Typer(help="The access log: verify it, sign checkpoints.", no_args_is_help=True)


@app.command("verify")
def audit_verify(
    against: Annotated[Path | None, typer.Option(help="A checkpoint file exported earlier and kept outside.",
                                                 exists=True, dir_okay=False)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """Recompute the hash chain and check every checkpoint signature. Exit 1 on any damage."""
    import json

    from archive.auditlog.service import verify_log

    ctx = context()
    with out.status("Verifying the access log…"):
        report = verify_log(ctx.db, ctx.checkpoint_keys, system_auditor(ctx, "cli:audit verify"), against=against)
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


@app.command("checkpoint")
def audit_checkpoint(
    export: Annotated[Path | None, typer.Option(help="Also write the signed checkpoint to this file.")] = None,
) -> None:
    """Sign the current head of the chain (Ed25519) and store the checkpoint."""
    from archive.auditlog.service import make_checkpoint

    ctx = context()
    with ctx.db.unit_of_work() as uow:
        checkpoint = make_checkpoint(uow.session.connection(), ctx.checkpoint_keys,
                                     system_auditor(ctx, "cli:audit checkpoint"))
    if checkpoint is None:
        fail("the log is empty: nothing to sign")
    if export:
        from audit.checkpoints import export as export_file

        export_file(checkpoint, export)
    out.print(f"Checkpoint at sequence {checkpoint.seq} signed with {checkpoint.key_id}"
              + (f", exported to {export}" if export else ""))
