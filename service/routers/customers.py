"""Customers: every read goes through the gate (purpose, scope, fields), which logs it."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query

from service.deps import Audit, Context, CurrentPrincipal, Uow

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
XPurpose = Annotated[str | None, Header(alias="X-Purpose", description="Why you read this (purposes.yaml).")]


@router.get("", summary="Customers in your scope",
            description="Only customers your role reaches under the stated purpose; fields the purpose does "
                        "not admit are masked or null. Cursor: the last id of the previous page.")
def list_customers(principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit, x_purpose: XPurpose = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   cursor: uuid.UUID | None = None) -> dict[str, Any]:
    items = ctx.customers.list(uow.session, principal, x_purpose, audit, limit=limit + 1, after=cursor)
    page = items[:limit]
    return {"items": page, "next_cursor": page[-1]["id"] if len(items) > limit else None}


@router.get("/{customer_id}", summary="One customer, as the purpose admits",
            responses={403: {"description": "Outside your scope (with a pointer to the loan form)"},
                       404: {"description": "No such customer you could ever read"}})
def read_customer(customer_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                  x_purpose: XPurpose = None) -> dict[str, Any]:
    return ctx.customers.read(uow.session, principal, x_purpose, customer_id, audit)
