"""Liveness, readiness and metrics: public, so orchestrators and scrapers need no token."""

from __future__ import annotations

import os

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest, multiprocess

from archive.health.service import ReadinessService
from service.deps import Context, Uow
from service.problems import problem
from service.schemas.common import problem_responses
from service.schemas.health import HealthOut, PolicyHealthOut, ReadyOut

router = APIRouter(tags=["operations"])


@router.get("/healthz", response_model=HealthOut, summary="Liveness: the process answers")
def healthz() -> HealthOut:
    return HealthOut()


@router.get("/readyz", response_model=ReadyOut, responses=problem_responses(503),
            summary="Readiness: database writable, schema current, keys loaded, access log writable",
            description="Writes and reads back a scratch row (never the access log). 503 lists what is not "
                        "ready in `checks`.")
def readyz(request: Request, ctx: Context, uow: Uow) -> ReadyOut | JSONResponse:
    sequencer = getattr(request.app.state, "sequencer", None)
    readiness = ReadinessService(uow, ctx.db.engine, ctx.key_ring, ctx.checkpoint_keys).check(
        sequencer_healthy=sequencer is None or sequencer.healthy)
    if not readiness.ready:
        return problem(503, slug="not-ready", title="Not ready", detail=readiness.problems,
                       checks=dict(readiness.checks))
    watcher = getattr(request.app.state, "policy_watcher", None)
    return ReadyOut(checks=dict(readiness.checks), policy=PolicyHealthOut(
        version=ctx.policy.version, current=not getattr(watcher, "mismatch", False),
        release_table_readable=getattr(watcher, "healthy", True)))


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            responses={200: {"description": "The Prometheus text format.",
                             "content": {"text/plain": {"schema": {"type": "string"}}}}})
def metrics() -> Response:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        data = generate_latest(registry)
    else:
        data = generate_latest()
    return Response(data, media_type=CONTENT_TYPE_LATEST)
