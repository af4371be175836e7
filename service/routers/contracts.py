"""The contract ledger (合同管理台帐): numbering per department and year, events, the two
one-month hand-over steps, and the late ones. Each route is one `ContractService` call; the
service has the gate decide and log it (archive/contracts/service.py)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Query

from archive.contracts.repository import LedgerFilter
from archive.contracts.service import NewContract
from service.deps import Contracts, CurrentCaller
from service.schemas.common import problem_responses
from service.schemas.contracts import (
    ContractDetailOut,
    ContractIn,
    ContractPage,
    EventIn,
    EventOut,
    OverduePage,
    StepIn,
)

router = APIRouter(prefix="/api/v1/contracts", tags=["contracts"])


@router.post("", status_code=201, response_model=ContractDetailOut, responses=problem_responses(400, 403, 404),
             summary="Record a signed contract and give it its number",
             description="Numbered `<DEPT>-<year>-<NNNN>` in the customer's department, consecutively and without "
                         "gaps, also under concurrent creation. Signing starts the one-month hand-over clock.")
def create_contract(body: ContractIn, caller: CurrentCaller, contracts: Contracts) -> ContractDetailOut:
    made = contracts.create(caller, NewContract(body.customer_id, body.title, body.signed_on))
    return ContractDetailOut.model_validate(made)


@router.get("", response_model=ContractPage | OverduePage, responses=problem_responses(400, 403),
            summary="The contract ledger",
            description="Contracts in your scope by number, highest first (department code, then year and "
                        "sequence: newest first within a department). `handover=overdue` lists instead every late "
                        "step (hand-over to the credit manager, or on to the archive, past its one-month due "
                        "date), longest overdue first, with `count`.")
def ledger(caller: CurrentCaller, contracts: Contracts,
           handover: Literal["overdue"] | None = None, department: str | None = None,
           year: int | None = None, status: Literal["signed", "changed", "performed", "terminated"] | None = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None) -> ContractPage | OverduePage:
    if handover == "overdue":
        late = contracts.overdue(caller, department=department, limit=limit, cursor=cursor)
        return OverduePage.model_validate(late)
    page = contracts.ledger(caller, LedgerFilter(department, year, status), limit=limit, cursor=cursor)
    return ContractPage.model_validate(page)


@router.get("/{contract_id}", response_model=ContractDetailOut, responses=problem_responses(400, 403, 404),
            summary="One contract: events, hand-over steps and the dossier checklist")
def read_contract(contract_id: uuid.UUID, caller: CurrentCaller, contracts: Contracts) -> ContractDetailOut:
    return ContractDetailOut.model_validate(contracts.read(caller, contract_id))


@router.post("/{contract_id}/events", status_code=201, response_model=EventOut,
             responses=problem_responses(400, 403, 404, 409),
             summary="Record a change, performance or termination",
             description="Each event starts its own one-month hand-over clock.")
def record_event(contract_id: uuid.UUID, body: EventIn, caller: CurrentCaller, contracts: Contracts) -> EventOut:
    event = contracts.record_event(caller, contract_id, body.kind, body.occurred_on)
    return EventOut.model_validate(event)


@router.post("/events/{event_id}/handover", response_model=EventOut, responses=problem_responses(400, 403, 404, 409),
             summary="The credit manager received the contract dossier (credit manager)",
             description="Due within one month of the event; starts the one-month archiving clock.")
def hand_over(event_id: uuid.UUID, caller: CurrentCaller, contracts: Contracts,
              body: StepIn | None = None) -> EventOut:
    on = body.on if body else None
    return EventOut.model_validate(contracts.step(caller, event_id, "handover", on))


@router.post("/events/{event_id}/archive", response_model=EventOut, responses=problem_responses(400, 403, 404, 409),
             summary="The contract dossier went on to the archive",
             description="Due within one month of the hand-over.")
def archive_step(event_id: uuid.UUID, caller: CurrentCaller, contracts: Contracts,
                 body: StepIn | None = None) -> EventOut:
    on = body.on if body else None
    return EventOut.model_validate(contracts.step(caller, event_id, "archive", on))
