"""The compliance officer's view of the access log (purpose `audit`). Reads of the log are
themselves logged; the public checkpoint keys are published without a token."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Header, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from archive.auditlog.repository import EventFilter, encode_cursor, list_events, unusual_volume
from archive.gate import authorize_log_access
from audit import checkpoints
from audit.chain import integrate_batch
from audit.events import AuditAction
from audit.verify import verify
from service.deps import Audit, Context, CurrentPrincipal, Uow
from service.schemas import Page

router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
public_router = APIRouter(prefix="/api/v1/audit", tags=["audit"])
XPurpose = Annotated[str | None, Header(alias="X-Purpose", description="Must be `audit`.")]


class EventOut(BaseModel):
    id: uuid.UUID
    seq: int | None = Field(description="Position in the hash chain; null while pending (≤ 1 s).")
    occurred_at: datetime
    actor_kind: str
    actor_id: str
    actor_name: str
    actor_roles: list[str]
    action: str
    decision: str
    resource_type: str
    resource_id: str
    customer_ids: list[str]
    purpose: str
    categories: list[str]
    fields: list[str]
    reason: str
    policy_rule: str
    policy_version: str
    request_id: str
    client_address: str
    break_glass: bool


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
            description="Newest first. `customer` finds every event that touched a customer (list reads too). "
            "`format=csv` exports the page as CSV.")
def events(
    principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit, x_purpose: XPurpose = None,
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
) -> Any:
    authorize_log_access(uow.session, ctx.policy, principal, x_purpose, audit, AuditAction.AUDIT_READ)
    f = EventFilter(customer_id=customer, actor=actor, action=action, purpose=purpose, decision=decision,
                    since_us=_us(since), until_us=_us(until), break_glass=break_glass)
    rows = list_events(uow.session.connection(), f, limit=limit + 1, cursor=cursor)
    uow.commit()
    page: Page[EventOut] = Page(items=[_event(r) for r in rows[:limit]], next_cursor=encode_cursor(rows[limit - 1])
                if len(rows) > limit else None)
    if format == "csv":
        return Response(_csv(page.items), media_type="text/csv; charset=utf-8",
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


@router.get("/verify", summary="Verify the hash chain and every checkpoint signature")
def verify_log(principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
               x_purpose: XPurpose = None) -> dict[str, object]:
    authorize_log_access(uow.session, ctx.policy, principal, x_purpose, audit, AuditAction.AUDIT_VERIFIED)
    conn = uow.session.connection()
    while integrate_batch(conn):  # chain what is pending (this request's event included) first
        pass
    report = verify(conn, ctx.checkpoint_keys).to_json()
    uow.commit()
    return report


@router.get("/checkpoints", summary="Signed checkpoints of the chain head, newest first")
def list_checkpoints(principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                     x_purpose: XPurpose = None,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50) -> dict[str, object]:
    authorize_log_access(uow.session, ctx.policy, principal, x_purpose, audit, AuditAction.AUDIT_READ)
    found = checkpoints.listed(uow.session.connection(), limit=limit)
    uow.commit()
    return {"items": [c.to_json() for c in found], "next_cursor": None}


@router.get("/unusual", summary="Actors who touched unusually many customers in one hour")
def unusual(principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit, x_purpose: XPurpose = None,
            since: datetime | None = None,
            threshold: Annotated[int, Query(ge=1, description="Distinct customers per hour.")] = 100,
            ) -> dict[str, object]:
    authorize_log_access(uow.session, ctx.policy, principal, x_purpose, audit, AuditAction.AUDIT_READ)
    rows = unusual_volume(uow.session.connection(), since_us=_us(since) or 0, threshold=threshold)
    uow.commit()
    return {"items": [{"actor_id": r.actor_id, "actor_name": r.actor_name,
                       "hour_start": datetime.fromtimestamp(int(r.hour) * 3600).astimezone().isoformat(),
                       "customers": int(r.customers)} for r in rows], "next_cursor": None}


class LookupIn(BaseModel):
    kind: Literal["id_number", "tax_number", "phone", "email", "username"]
    value: str = Field(min_length=1, max_length=200)


@router.post("/lookup", summary="Does this identifying value appear in the log?",
             description="The value is hashed with the audit key; the log never holds it, and this "
                         "lookup is logged with the hash only.")
def lookup(body: LookupIn, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
           x_purpose: XPurpose = None) -> dict[str, object]:
    tokens = tuple(ctx.audit_lookup.tokens(body.kind, body.value))
    authorize_log_access(uow.session, ctx.policy, principal, x_purpose, audit, AuditAction.AUDIT_LOOKUP)
    rows = list_events(uow.session.connection(), EventFilter(lookup_tokens=tokens), limit=500)
    uow.commit()
    return {"appears": bool(rows), "event_ids": [str(r.id) for r in rows]}


@public_router.get("/public-keys", summary="Public keys that verify checkpoints (no token needed)")
def public_keys(ctx: Context) -> dict[str, str]:
    return ctx.checkpoint_keys.public_pem()
