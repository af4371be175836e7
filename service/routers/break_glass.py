"""Break-glass: a compliance officer's emergency access to one customer, and its review."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query, status
from pydantic import BaseModel, Field

from archive.breakglass.models import BreakGlass
from archive.breakglass.service import (
    DEFAULT_MINUTES,
    MAX_MINUTES,
    BreakGlassDesk,
    ReviewOutcome,
)
from archive.db import utcnow
from service.deps import Audit, Context, CurrentPrincipal, Uow

router = APIRouter(prefix="/api/v1/break-glass", tags=["break-glass"])


class BreakGlassIn(BaseModel):
    customer_id: uuid.UUID
    justification: str = Field(max_length=4000, description="Why emergency access is needed; the reviewer reads it.")
    minutes: int = Field(DEFAULT_MINUTES, description=f"How long it stays open (1–{MAX_MINUTES}).")


class ReviewIn(BaseModel):
    outcome: ReviewOutcome
    note: str = Field("", max_length=4000)


class BreakGlassOut(BaseModel):
    id: uuid.UUID
    customer_id: uuid.UUID
    opened_by: uuid.UUID
    justification: str
    opened_at: datetime
    expires_at: datetime
    closed_at: datetime | None
    active: bool
    reviewed_by: uuid.UUID | None
    reviewed_at: datetime | None
    review_outcome: str | None
    review_note: str | None


def _out(row: BreakGlass) -> BreakGlassOut:
    fields = {name: getattr(row, name) for name in BreakGlassOut.model_fields if name != "active"}
    return BreakGlassOut(active=row.active(utcnow()), **fields)


@router.post("", status_code=status.HTTP_201_CREATED, response_model=BreakGlassOut,
             summary="Open break-glass on one customer (compliance officer)",
             description="Emergency access to every category of one customer, for a bounded time (default "
                         f"{DEFAULT_MINUTES} min). Reads under it use `X-Purpose: audit`, are flagged "
                         "`break_glass` in the access log, and the break-glass waits for review by another "
                         "compliance officer or the general manager.")
def open_break_glass(body: BreakGlassIn, principal: CurrentPrincipal, ctx: Context, uow: Uow,
                     audit: Audit) -> BreakGlassOut:
    view = BreakGlassDesk(uow.session, audit, ctx.policy.version).open(principal, body.customer_id,
                                                                        body.justification, body.minutes)
    uow.commit()
    return _out(view)


@router.post("/{break_glass_id}/close", response_model=BreakGlassOut, summary="Close your break-glass early")
def close_break_glass(break_glass_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow,
                      audit: Audit) -> BreakGlassOut:
    view = BreakGlassDesk(uow.session, audit, ctx.policy.version).close(principal, break_glass_id)
    uow.commit()
    return _out(view)


@router.get("", summary="The review list: break-glass not yet reviewed",
            description="For compliance officers and the general manager; oldest first.")
def pending_break_glass(principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                        limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, object]:
    views = BreakGlassDesk(uow.session, audit, ctx.policy.version).pending(principal, limit)
    return {"items": [_out(v) for v in views], "next_cursor": None}


@router.post("/{break_glass_id}/review", response_model=BreakGlassOut,
             summary="Record the review (someone other than the officer who opened it)")
def review_break_glass(break_glass_id: uuid.UUID, body: ReviewIn, principal: CurrentPrincipal, ctx: Context,
                       uow: Uow, audit: Audit) -> BreakGlassOut:
    view = BreakGlassDesk(uow.session, audit, ctx.policy.version).review(principal, break_glass_id, body.outcome,
                                                                          body.note)
    uow.commit()
    return _out(view)
