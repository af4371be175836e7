"""Break-glass: a compliance officer's emergency access to one customer, and its review."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from archive.breakglass.models import BreakGlass, ReviewOutcome
from archive.breakglass.service import DEFAULT_MINUTES, BreakGlassService
from archive.db import utcnow
from service.deps import Audit, Context, CurrentPrincipal, Uow
from service.schemas.breakglass import BreakGlassIn, BreakGlassOut, ReviewIn
from service.schemas.common import Page, problem_responses

router = APIRouter(prefix="/api/v1/break-glass", tags=["break-glass"])


def _out(row: BreakGlass) -> BreakGlassOut:
    return BreakGlassOut(
        id=row.id, customer_id=row.customer_id, opened_by=row.opened_by, justification=row.justification,
        opened_at=row.opened_at, expires_at=row.expires_at, closed_at=row.closed_at, active=row.active(utcnow()),
        reviewed_by=row.reviewed_by, reviewed_at=row.reviewed_at,
        review_outcome=ReviewOutcome(row.review_outcome) if row.review_outcome else None, review_note=row.review_note)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BreakGlassOut,
             responses=problem_responses(403, 404, 409),
             summary="Open break-glass on one customer (compliance officer)",
             description="Emergency access to every category of one customer, for a bounded time (default "
                         f"{DEFAULT_MINUTES} min). Reads under it use `X-Purpose: audit`, are flagged "
                         "`break_glass` in the access log, and the break-glass waits for review by another "
                         "compliance officer or the general manager.")
def open_break_glass(body: BreakGlassIn, principal: CurrentPrincipal, ctx: Context, uow: Uow,
                     audit: Audit) -> BreakGlassOut:
    return _out(BreakGlassService(uow, ctx.policy, audit).open(principal, body.customer_id, body.justification,
                                                               body.minutes))


@router.post("/{break_glass_id}/close", response_model=BreakGlassOut, responses=problem_responses(404),
             summary="Close your break-glass early")
def close_break_glass(break_glass_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow,
                      audit: Audit) -> BreakGlassOut:
    return _out(BreakGlassService(uow, ctx.policy, audit).close(principal, break_glass_id))


@router.get("", response_model=Page[BreakGlassOut], responses=problem_responses(403),
            summary="The review list: break-glass not yet reviewed",
            description="For compliance officers and the general manager; oldest first.")
def pending_break_glass(principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                        limit: Annotated[int, Query(ge=1, le=500)] = 100) -> Page[BreakGlassOut]:
    rows = BreakGlassService(uow, ctx.policy, audit).pending(principal, limit)
    return Page(items=[_out(r) for r in rows], next_cursor=None)


@router.post("/{break_glass_id}/review", response_model=BreakGlassOut, responses=problem_responses(403, 404, 409),
             summary="Record the review (someone other than the officer who opened it)")
def review_break_glass(break_glass_id: uuid.UUID, body: ReviewIn, principal: CurrentPrincipal, ctx: Context,
                       uow: Uow, audit: Audit) -> BreakGlassOut:
    return _out(BreakGlassService(uow, ctx.policy, audit).review(principal, break_glass_id, body.outcome, body.note))
