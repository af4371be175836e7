"""The compliance officer's view of the access log (purpose `audit`). Reads of the log are
themselves logged; the public checkpoint keys are published without a token."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from fastapi.responses import Response

from archive.auditlog.repository import EventFilter
from archive.auditlog.service import AuditLogService
from service.deps import Context, CurrentCaller, Uow
from service.schemas.audit import CheckpointOut, EventOut, LookupIn, LookupOut, UnusualOut, VerifyOut
from service.schemas.common import Page, problem_responses

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
public_router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
LOG_PROBLEMS = problem_responses(400, 403)  # purpose missing or unknown; not `audit`, or a role without it
CSV = "text/csv"


def _service(ctx: Context, uow: Uow) -> AuditLogService:
    return AuditLogService(uow, ctx.gate, lookup=ctx.audit_lookup, verifier=ctx.checkpoint_keys)


def _us(value: datetime | None) -> int | None:
    return None if value is None else int(value.timestamp() * 1_000_000)


def _event(row: Any) -> EventOut:
    return EventOut(
        id=row.id, seq=row.seq, occurred_at=datetime.fromtimestamp(row.occurred_us / 1_000_000).astimezone(),
        actor_kind=row.actor_kind, actor_id=row.actor_id, actor_name=row.actor_name,
        actor_roles=row.actor_roles.split(), action=row.action, decision=row.decision,
        resource_type=row.resource_type, resource_id=row.resource_id, customer_ids=row.customer_ids.split(),
        purpose=row.purpose, categories=row.categories.split(), fields=row.fields.split(), reason=row.reason,
        policy_rule=row.policy_rule, policy_version=row.policy_version, request_id=row.request_id,
        client_address=row.client_address, break_glass=row.break_glass,
    )


@router.get("/events", response_model=Page[EventOut], summary="Search the access log",
            responses={**LOG_PROBLEMS, 200: {"content": {CSV: {"schema": {"type": "string"}}},
                                               "description": "The page (`format=csv`: as CSV)."}},
            description="Newest first. `customer` finds every event that touched a customer (list reads too). "
            "`format=csv` exports the page as CSV.")
def events(
    caller: CurrentCaller, ctx: Context, uow: Uow,
    customer: uuid.UUID | None = None,
    actor: Annotated[str | None, Query(max_length=200, description="Actor id or username.")] = None,
    action: Annotated[str | None, Query(max_length=64)] = None,
    purpose: Annotated[str | None, Query(max_length=64, description="The purpose stated by the actor.")] = None,
    decision: Literal["allowed", "denied"] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    break_glass: bool | None = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=80)] = None,
    format: Literal["json", "csv"] = "json",
) -> Page[EventOut] | Response:
    f = EventFilter(customer_id=customer, actor=actor, action=action, purpose=purpose, decision=decision,
                    since_us=_us(since), until_us=_us(until), break_glass=break_glass)
    found = _service(ctx, uow).events(caller, f, limit=limit, cursor=cursor)
    page: Page[EventOut] = Page(items=[_event(r) for r in found.rows], next_cursor=found.next_cursor)
    if format == "csv":
        return Response(_csv(page.items), media_type=f"{CSV}; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="audit-events.csv"'})
    return page


def _csv(items: list[EventOut]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    names = list(EventOut.model_fields)
    writer.writerow(names)
    for item in items:
        data = item.model_dump(mode="json")
        writer.writerow([" ".join(v) if isinstance(v, list) else v for v in (data[n] for n in names)])
    return out.getvalue()


@router.get("/verify", response_model=VerifyOut, responses=LOG_PROBLEMS,
            summary="Verify the hash chain and every checkpoint signature")
def verify_log(caller: CurrentCaller, ctx: Context, uow: Uow) -> VerifyOut:
    report = _service(ctx, uow).verify(caller)
    first = report.first
    return VerifyOut(ok=report.ok, checked=report.checked, head_seq=report.head_seq, head_hash=report.head_hash.hex(),
                     pending=report.pending, checkpoints_checked=report.checkpoints_checked,
                     first_bad_seq=first.seq if first else None, damage=first.kind if first else None,
                     detail=first.detail if first else None)


@router.get("/checkpoints", response_model=Page[CheckpointOut], responses=LOG_PROBLEMS,
            summary="Signed checkpoints of the chain head, newest first")
def list_checkpoints(caller: CurrentCaller, ctx: Context, uow: Uow,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Page[CheckpointOut]:
    found = _service(ctx, uow).checkpoints(caller, limit=limit)
    return Page(items=[CheckpointOut.model_validate(c.to_json()) for c in found], next_cursor=None)


@router.get("/unusual", response_model=Page[UnusualOut], responses=LOG_PROBLEMS,
            summary="Actors who touched unusually many customers in one hour")
def unusual(caller: CurrentCaller, ctx: Context, uow: Uow, since: datetime | None = None,
            threshold: Annotated[int, Query(ge=1, le=1_000_000_000, description="Distinct customers per hour.")] = 100,
            ) -> Page[UnusualOut]:
    rows = _service(ctx, uow).unusual(caller, since_us=_us(since) or 0, threshold=threshold)
    return Page(items=[UnusualOut(actor_id=r.actor_id, actor_name=r.actor_name,
                                  hour_start=datetime.fromtimestamp(int(r.hour) * 3600).astimezone(),
                                  customers=int(r.customers)) for r in rows], next_cursor=None)


@router.post("/lookup", response_model=LookupOut, responses=LOG_PROBLEMS,
             summary="Does this identifying value appear in the log?",
             description="The value is hashed with the audit key; the log never holds it, and this "
                         "lookup is logged with the hash only.")
def lookup(body: LookupIn, caller: CurrentCaller, ctx: Context, uow: Uow) -> LookupOut:
    found = _service(ctx, uow).lookup(caller, body.kind, body.value)
    return LookupOut(appears=found.appears, event_ids=[r.id for r in found.rows])


@public_router.get("/public-keys", response_model=dict[str, str],
                   summary="Public keys that verify checkpoints (no token needed)")
def public_keys(ctx: Context) -> dict[str, str]:
    return ctx.checkpoint_keys.public_pem()
