"""The customer's own calls: no X-Purpose (the purpose is `data_subject_request`), scope self."""

from __future__ import annotations

from fastapi import APIRouter

from service.deps import Customers, SelfCaller
from service.schemas.common import problem_responses
from service.schemas.me import MyRecordOut

router = APIRouter(prefix="/api/v1/me", tags=["the customer"])


@router.get("", response_model=MyRecordOut, summary="Your own record (customer login)",
            description="Everything the archive holds on you, decrypted for you alone; the read is logged. "
                        "Staff logins get 404: no customer record belongs to them.",
            responses=problem_responses(404, 410))
def my_record(caller: SelfCaller, customers: Customers) -> dict[str, object]:
    return customers.read_self(caller)
