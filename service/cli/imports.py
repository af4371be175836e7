"""`archive import customers FILE.csv --as USERNAME`: the bulk intake from the command line,
as the named user (their purpose, scope and audit trail), all or nothing, with a progress bar."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from service.cli.common import context, err, fail, out

if TYPE_CHECKING:
    from collections.abc import Iterable

    from archive.customers.importing import RowProblem

app = typer.Typer(help="Bulk intake from files (all or nothing).", no_args_is_help=True)


@app.command("customers")
def import_customers(
    file: Annotated[Path, typer.Argument(help="CSV in the format of API.md (header row required).", exists=True,
                                         dir_okay=False, readable=True)],
    as_user: Annotated[str, typer.Option("--as", help="Username the import runs as (scope, audit).")],
    purpose: Annotated[str, typer.Option(help="Purpose the import is made for.")] = "sales_followup",
    update: Annotated[bool, typer.Option(help="Apply changed values of existing codes as corrections.")] = False,
    encoding: Annotated[str, typer.Option(help="File encoding, e.g. gbk for Chinese Excel.")] = "utf-8",
    dry_run: Annotated[bool, typer.Option(help="Check everything, write nothing.")] = False,
) -> None:
    """Import customers: every row is checked first; one bad row and nothing is imported."""
    import gc

    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn

    from archive.auditing import Auditor, actor_of, system_actor
    from archive.customers.importing import CustomerImporter, ImportRefused, read_csv
    from archive.errors import ArchiveError
    from archive.identity.repository import IdentityRepository
    from archive.identity.service import principal_of
    from audit.chain import integrate

    ctx = context()
    with ctx.db.session_factory() as session:
        user = IdentityRepository(session).user_by_username(as_user)
        if user is None or user.disabled or user.kind != "staff":
            fail(f"no active staff user {as_user!r}")
        principal = principal_of(user)
    rows, problems = read_csv(file.read_bytes(), encoding)
    if problems:
        _print_problems(problems)
        fail("the file cannot be read; nothing was imported")
    os_user = system_actor().name
    auditor = Auditor(actor_of(principal), request_id=f"cli:import:{os_user}", policy_version=ctx.policy.version)
    importer = CustomerImporter(ctx.db, ctx.gate, ctx.key_ring, ctx.blind_index)
    # This process is the import and nothing else, so it may pause the cyclic garbage collector:
    # the file's rows are tens of thousands of live objects that each full collection would walk
    # again for nothing. Reference counting still frees everything. Never done in library code
    # (a web server's threads share the collector).
    gc.disable()
    try:
        with Progress(TextColumn("{task.description}"), BarColumn(), TaskProgressColumn(), console=err) as bar:
            task = bar.add_task("checking", total=max(len(rows), 1))

            def tick(phase: str, done: int, total: int) -> None:
                bar.update(task, description=phase, completed=done * max(len(rows), 1) // max(total, 1))

            try:
                report = importer.run(principal, purpose, rows, auditor=auditor, update=update, dry_run=dry_run,
                                      progress=tick)
            except ImportRefused as refused:
                bar.stop()
                _print_problems(refused.report.problems)
                integrate(ctx.db.engine)
                fail(f"{len(refused.report.problems)} problem(s); nothing was imported")
            except ArchiveError as error:
                bar.stop()
                integrate(ctx.db.engine)
                fail(error.detail)
    finally:
        gc.enable()
    integrate(ctx.db.engine)
    verb = "would import" if dry_run else "imported"
    out.print(f"{report.rows} row(s): {verb} {report.created} new, {report.updated} updated, "
              f"{report.unchanged} unchanged; {report.flagged} flagged for review.")


def _print_problems(problems: Iterable[RowProblem]) -> None:
    from rich.table import Table

    table = Table("line", "column", "problem", title="Rows to fix")
    for p in problems:
        table.add_row(str(p.line), p.column, p.message)
    err.print(table)
