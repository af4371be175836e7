"""The customer's own calls: no X-Purpose (the purpose is `data_subject_request`), scope self."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from service.deps import Audit, Context, CurrentPrincipal, Uow

router = APIRouter(prefix="/api/v1/me", tags=["the customer"])


@router.get("", summary="Your own record (customer login)",
            description="Everything the archive holds on you, decrypted for you alone; the read is logged.")
def my_record(principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit) -> dict[str, Any]:
    return ctx.customers.read_self(uow.session, principal, audit)
