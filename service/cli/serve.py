"""`archive serve`: the HTTP API and console, from an existing, migrated database."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import database_problem, fail, out


def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.", min=1)] = 1,
) -> None:
    """Serve the HTTP API and console from an existing, migrated database."""
    import uvicorn

    from archive.settings import Settings

    settings = Settings()
    if settings.production:
        problems = settings.problems_for_production()
        if problems:
            fail("refusing to start in production:\n  - " + "\n  - ".join(problems)
                 + "\nSet these (or mount them under ARCHIVE_SECRETS_DIR) and start again.")
    if why := database_problem(settings):
        fail(f"refusing to serve: {why}")
    out.print(f"Serving on http://{host}:{port} ({workers} worker{'s' if workers > 1 else ''}); docs at /docs")
    uvicorn.run("service.app:create_app_from_env", factory=True, host=host, port=port, workers=workers,
                access_log=False, log_config=None, proxy_headers=False)
