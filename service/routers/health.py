"""Liveness, readiness and metrics: public, so orchestrators and scrapers need no token."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess
from sqlalchemy import text

from archive.migrate import schema_problem
from audit.log import probe_writable as audit_writable
from service.deps import Context
from service.problems import problem

router = APIRouter(tags=["operations"])


@router.get("/healthz", summary="Liveness: the process answers")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="Readiness: database reachable and schema current", response_model=None)
def readyz(request: Request, ctx: Context) -> dict[str, object] | Response:
    checks: dict[str, str] = {}
    try:
        with ctx.db.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        checks["database"] = "ok"
        problem_text = schema_problem(ctx.db.engine)
        checks["migrations"] = problem_text or "ok"
        checks["audit_log"] = "ok" if audit_writable(ctx.db.engine) else "not writable"
        sequencer = getattr(request.app.state, "sequencer", None)
        if sequencer is not None and not sequencer.healthy:
            checks["audit_chain"] = "sequencer failing"
    except Exception as exc:  # readiness reports, it does not raise
        checks["database"] = f"unreachable ({type(exc).__name__})"
    watcher = getattr(request.app.state, "policy_watcher", None)
    # Reported, not fatal: a process that could not switch to the newest release (its files
    # differ from it) still decides with the policy it holds, but an operator wants to know.
    policy = {"version": ctx.policy.version,
              "current": not getattr(watcher, "mismatch", False),
              "release_table_readable": getattr(watcher, "healthy", True)}
    if all(v == "ok" for v in checks.values()):
        return {"status": "ready", "checks": checks, "policy": policy}
    return problem(503, slug="not-ready", title="Not ready", detail="; ".join(
        f"{k}: {v}" for k, v in checks.items() if v != "ok"), checks=checks)


@router.get("/metrics", summary="Prometheus metrics", response_class=Response)
def metrics() -> Response:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, media_type=CONTENT_TYPE_LATEST)
