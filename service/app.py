"""The app factory. Every router under /api/v1 is mounted behind authentication except the
routes named in PUBLIC_ROUTES; a test walks `app.routes` to keep it that way."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import Depends, FastAPI

from archive.migrate import schema_problem
from archive.policy.watch import PolicyWatcher
from archive.settings import Settings
from audit.chain import SequencerThread
from service import problems
from service.context import AppContext
from service.deps import require_principal
from service.logging import configure as configure_logging
from service.middleware import RequestEnvelope
from service.routers import (
    audit,
    auth,
    break_glass,
    contracts,
    customers,
    documents,
    health,
    identity,
    me,
    policy_admin,
)

# Reachable without a token, on purpose. Anything else unauthenticated fails a test.
PUBLIC_ROUTES = frozenset({
    "/healthz", "/readyz", "/metrics", "/api/v1/auth/token",
    "/openapi.json", "/docs", "/docs/oauth2-redirect", "/redoc",
    "/api/v1/audit/public-keys",  # checkpoint verification needs only these
})

DESCRIPTION = """Secure customer archive: encrypted dossiers, purpose-bound access, an append-only
hash-chained access log. Sign in at `POST /api/v1/auth/token`, then send
`Authorization: Bearer <token>`; reads of customer data also need `X-Purpose`.
Errors are `application/problem+json` (RFC 9457)."""


class UnmigratedDatabase(RuntimeError):
    pass


def create_app(ctx: AppContext | None = None) -> FastAPI:
    ctx = ctx or AppContext.from_settings(Settings())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        why = schema_problem(ctx.db.engine)
        if why:
            raise UnmigratedDatabase(f"refusing to serve: {why}")
        # The chain keeps up without `archive worker`: every serving process runs a sequencer
        # (one integrates at a time) and drains it on the way out.
        sequencer = SequencerThread(ctx.db.engine)
        app.state.sequencer = sequencer
        sequencer.start()
        # Every serving process follows the newest policy release (archive/policy/watch.py).
        watcher = PolicyWatcher(ctx.policy, ctx.db, interval=ctx.settings.policy.policy_poll_seconds)
        app.state.policy_watcher = watcher
        watcher.check_once()
        watcher.start()
        try:
            yield
        finally:
            watcher.stop()
            sequencer.stop()

    app = FastAPI(title="Customer Archive", version="0.1.0", description=DESCRIPTION, lifespan=lifespan)
    app.state.ctx = ctx
    problems.install(app)
    app.add_middleware(RequestEnvelope, max_body_bytes=ctx.settings.server.max_upload_bytes)
    app.include_router(health.router)
    app.include_router(auth.router)
    authenticated = [Depends(require_principal)]
    app.include_router(identity.router, dependencies=authenticated)
    app.include_router(audit.router, dependencies=authenticated)
    app.include_router(customers.router, dependencies=authenticated)
    app.include_router(documents.router, dependencies=authenticated)
    app.include_router(break_glass.router, dependencies=authenticated)
    app.include_router(me.router, dependencies=authenticated)
    app.include_router(contracts.router, dependencies=authenticated)
    app.include_router(policy_admin.router, dependencies=authenticated)
    app.include_router(audit.public_router)
    return app


def create_app_from_env() -> FastAPI:
    """Entry point for `uvicorn --factory` worker processes."""
    settings = Settings()
    configure_logging(json=(settings.server.log_format or ("json" if settings.production else "console")) == "json",
                      level=settings.server.log_level)
    return create_app(AppContext.from_settings(settings))
