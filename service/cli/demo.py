"""`archive demo`: create the database and demo data, print the logins, serve."""

from __future__ import annotations

from typing import Annotated

import typer

from service.cli.common import context, fail, out
from service.cli.serve import serve


def demo(
    no_serve: Annotated[bool, typer.Option("--no-serve", help="Seed the data directory and exit.")] = False,
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
) -> None:
    """Create the database and demo data under ARCHIVE_DATA_DIR, print the logins, serve."""
    import secrets
    from datetime import datetime

    from rich.table import Table

    from archive import demo as demo_data
    from archive.migrate import upgrade
    from archive.settings import Settings
    from crypto.keys import generate_local_keys

    settings = Settings()
    if settings.production:
        fail("the demo never runs with ARCHIVE_ENV=production")
    ctx = context()
    with out.status("Migrating the database…"):
        upgrade(ctx.db.engine)
    generate_local_keys(settings.keys_dir)  # KEK v1 and blind-index keys, once
    password = (settings.server.demo_password.get_secret_value() if settings.server.demo_password
                else secrets.token_urlsafe(12))
    version = ctx.policy.version
    with out.status("Seeding demo data…"):
        logins = demo_data.seed(ctx.db, ctx.passwords, password, policy_version=version)
        demo_data.seed_customers(ctx.db, ctx.key_ring, ctx.blind_index, policy_version=version)
        today = datetime.now(settings.zone).date()
        demo_data.seed_contracts(ctx.db, today, policy_version=version)
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
