"""`archive worker`: the scheduler (one leader per deployment)."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import context, database_problem, fail


def worker(
    tick: Annotated[float | None, typer.Option(help="Seconds between ticks (default from settings).")] = None,
    once: Annotated[bool, typer.Option(help="Run one tick and exit.")] = False,
) -> None:
    """Run scheduled jobs. Several workers elect one leader, so nothing runs twice."""
    import signal
    import sys

    from archive.jobs.scheduler import serve_forever
    from archive.settings import Settings

    settings = Settings()
    if why := database_problem(settings):
        fail(f"refusing to run: {why}")
    ctx = context()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    serve_forever(ctx.db, tick_seconds=tick or settings.worker.worker_tick_seconds,
                  lock_path=settings.data_dir / "worker.lock", keys_dir=settings.keys_dir, once=once)
