"""`archive blobs`: the encrypted document blob store."""

from __future__ import annotations

import typer

from service.cli.common import context, database_problem, fail, out, system_auditor

app = typer.Typer(help="The encrypted document blob store.", no_args_is_help=True)


@app.command("check")
def blobs_check() -> None:
    """List orphan blobs (no document row) and missing blobs (a row without its blob); exit 1
    when there are any. A very recent orphan may be an upload still in flight. The check is
    audited as the `system` actor, with its counts (blob keys are document ids, never content)."""
    from archive.documents.repository import DocumentRepository
    from archive.documents.service import check_blobs
    from archive.settings import Settings
    from audit.chain import integrate
    from audit.events import AuditAction

    if why := database_problem(Settings()):
        fail(why)
    ctx = context()
    with ctx.db.session_factory() as session:  # reads only: the store is listed outside any transaction
        result = check_blobs(DocumentRepository(session), ctx.blob_store)
    with ctx.db.unit_of_work() as uow:
        system_auditor(ctx, "cli:blobs check").record(
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
