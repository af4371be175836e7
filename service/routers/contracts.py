"""The contract ledger (合同管理台帐): numbering per department and year, events, the two
one-month hand-over steps, and the late ones. Every call is decided and logged by the gate."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import Annotated, Any, Literal, TypeVar

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field
from sqlalchemy import Select, select, tuple_

from archive.contracts.checklist import Requirements
from archive.contracts.models import Contract, ContractEvent
from archive.contracts.service import ContractLedger, Late
from archive.customers.models import Customer
from archive.errors import FieldError, InvalidInput, NotFound
from archive.gate import refuse
from archive.identity.models import Department, User
from archive.identity.principal import Principal
from archive.policy.decision import PurposeDecision
from archive.vocabulary import Action, Scope
from service.deps import Audit, Context, CurrentPrincipal, Uow
from service.routers.customers import XPurpose

router = APIRouter(prefix="/api/v1/contracts", tags=["contracts"])
Q = TypeVar("Q", bound=Select)  # type: ignore[type-arg]
T = TypeVar("T")


class ContractIn(BaseModel):
    customer_id: uuid.UUID
    title: str = Field(max_length=200, description="What the contract is about (no personal data).")
    signed_on: date | None = Field(None, description="Default: today (company time zone).")


class EventIn(BaseModel):
    kind: Literal["changed", "performed", "terminated"]
    occurred_on: date | None = Field(None, description="Default: today (company time zone).")


class StepIn(BaseModel):
    on: date | None = Field(None, description="Default: today (company time zone).")


def _today(ctx: Any) -> date:
    return datetime.now(ctx.settings.zone).date()


def _scoped(query: Q, decision: PurposeDecision, principal: Principal) -> Q:
    scope = decision.scope
    if scope in (Scope.ALL, Scope.METADATA):
        return query
    if scope is Scope.DEPARTMENT:
        return query.where(Customer.department_id == principal.department_id)
    if scope is Scope.OWN:
        return query.where(Customer.owner_id == principal.id)
    return query.where(Customer.id.is_(None))  # loan and the like: no ledger rows


def _event_view(event: ContractEvent, today: date) -> dict[str, Any]:
    late = (event.handed_over_on is None and event.handover_due < today) or (
        event.handed_over_on is not None and event.archived_on is None and event.archive_due is not None
        and event.archive_due < today)
    return {"id": str(event.id), "kind": event.kind, "occurred_on": event.occurred_on,
            "handover_due": event.handover_due, "handed_over_on": event.handed_over_on,
            "archive_due": event.archive_due, "archived_on": event.archived_on, "late": late}


def _view(session: Any, contract: Contract) -> dict[str, Any]:
    department = session.get(Department, contract.department_id)
    customer = session.get(Customer, contract.customer_id)
    handler = session.get(User, contract.handler_id) if contract.handler_id else None
    return {"id": str(contract.id), "number": contract.number, "department": department.code if department else None,
            "year": contract.year, "customer_id": str(contract.customer_id),
            "customer_code": customer.code if customer else None, "title": contract.title, "status": contract.status,
            "handler": handler.username if handler else None, "created_at": contract.created_at}


def _detail(ctx: Any, session: Any, contract: Contract) -> dict[str, Any]:
    ledger_ = ContractLedger(session)
    events = ledger_.events(contract.id)
    checklist = Requirements.load(ctx.policy.path).checklist(
        performed=any(e.kind == "performed" for e in events), present=ledger_.document_kinds(contract.id))
    today = _today(ctx)
    return {**_view(session, contract), "events": [_event_view(e, today) for e in events], "dossier": checklist}


def _known(session: Any, audit: Any, decision: PurposeDecision, key: uuid.UUID, find: Callable[[uuid.UUID], T]) -> T:
    """The contract or event, or a 404 that is an audit event like every other refusal (API.md)."""
    try:
        return find(key)
    except NotFound as error:
        raise refuse(session, audit, decision.action, error, resource_type="contract", resource_id=str(key),
                     purpose=decision.purpose.value if decision.purpose else "",
                     policy_version=decision.policy_version) from None


@router.post("", status_code=201, summary="Record a signed contract and give it its number",
             description="Numbered `<DEPT>-<year>-<NNNN>` in the customer's department, consecutively and without "
                         "gaps, also under concurrent creation. Signing starts the one-month hand-over clock.")
def create_contract(body: ContractIn, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                    x_purpose: XPurpose = None) -> dict[str, Any]:
    session = uow.session
    decision = ctx.customers.authorize_contract(session, principal, x_purpose, audit, Action.CONTRACT_CREATE)
    ctx.customers.check_scope(session, audit, principal, decision, body.customer_id)
    customer = session.get(Customer, body.customer_id)
    department = session.get(Department, customer.department_id) if customer else None
    if customer is None or department is None:
        raise InvalidInput("The customer has no department.", errors=[FieldError("customer_id", "unknown")])
    signed_on = body.signed_on or _today(ctx)
    if signed_on > _today(ctx):
        raise InvalidInput("A contract is recorded once signed.", errors=[FieldError("signed_on", "not in the future")])
    contract = ContractLedger(session).create(customer_id=customer.id, department=department, title=body.title,
                                              signed_on=signed_on, handler_id=principal.id, recorded_by=principal.id)
    ctx.customers.record_contract(session, audit, decision, Action.CONTRACT_CREATE, str(contract.id),
                                  (customer.id,), extra={"number": contract.number})
    uow.commit()
    return _detail(ctx, session, contract)


@router.get("", summary="The contract ledger",
            description="Contracts in your scope by number, highest first (department code, then year and "
                        "sequence: newest first within a department). `handover=overdue` lists instead every late "
                        "step (hand-over to the credit manager, or on to the archive, past its one-month due "
                        "date), longest overdue first, with `count`.")
def ledger(principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit, x_purpose: XPurpose = None,
           handover: Literal["overdue"] | None = None, department: str | None = None,
           year: int | None = None, status: Literal["signed", "changed", "performed", "terminated"] | None = None,
           limit: Annotated[int, Query(ge=1, le=500)] = 50, cursor: str | None = None) -> dict[str, Any]:
    session = uow.session
    decision = ctx.customers.authorize_contract(session, principal, x_purpose, audit, Action.CONTRACT_LIST)
    if handover == "overdue":
        return _overdue(ctx, uow, audit, decision, principal, department, limit, cursor)
    query = _scoped(select(Contract).join(Customer, Customer.id == Contract.customer_id)
                    .join(Department, Department.id == Contract.department_id), decision, principal)
    if department:
        query = query.where(Department.code == department)
    if year:
        query = query.where(Contract.year == year)
    if status:
        query = query.where(Contract.status == status)
    # By department code, year and sequence as numbers (so SALES-2026-10000 follows -9999), the
    # cursor being the last number shown.
    order = tuple_(Department.code, Contract.year, Contract.seq)
    if cursor:
        query = query.where(order < tuple_(*_number_parts(cursor)))
    contracts = session.scalars(query.order_by(Department.code.desc(), Contract.year.desc(), Contract.seq.desc())
                                .limit(limit + 1)).all()
    page = contracts[:limit]
    ctx.customers.record_contract(session, audit, decision, Action.CONTRACT_LIST, "",
                                  tuple({c.customer_id for c in page}))
    uow.commit()
    return {"items": [_view(session, c) for c in page],
            "next_cursor": page[-1].number if len(contracts) > limit else None}


def _number_parts(number: str) -> tuple[str, int, int]:
    """(department code, year, sequence) of a contract number used as a cursor."""
    code, _, rest = number.rpartition("-")
    code, _, year = code.rpartition("-")
    if not (code and year.isdigit() and rest.isdigit()):
        raise InvalidInput("Not a cursor from this list.", errors=[FieldError("cursor", "a contract number")])
    return code, int(year), int(rest)


def _overdue(ctx: Any, uow: Any, audit: Any, decision: PurposeDecision, principal: Principal,
             department: str | None, limit: int, cursor: str | None) -> dict[str, Any]:
    """Every late step in the caller's scope; the cursor is the last item's `<due_on>_<event id>`."""
    session, today = uow.session, _today(ctx)
    in_scope = _scoped(select(Contract.id).join(Customer, Customer.id == Contract.customer_id), decision, principal)
    visible = set(session.scalars(in_scope).all())
    late = sorted((item for item in ContractLedger(session).late(today) if item.contract.id in visible),
                  key=_late_key)
    if department:
        late = [item for item in late if _view(session, item.contract)["department"] == department]
    after = tuple(cursor.split("_", 1)) if cursor else None
    remaining = [item for item in late if after is None or _late_key(item) > after]
    page = remaining[:limit]
    ctx.customers.record_contract(session, audit, decision, Action.CONTRACT_LIST, "overdue",
                                  tuple({item.contract.customer_id for item in page}), extra={"count": str(len(late))})
    uow.commit()
    items = [{**_view(session, item.contract), "event": _event_view(item.event, today), "step": item.step,
              "due_on": item.due_on, "days_late": item.days_late} for item in page]
    return {"items": items, "count": len(late),
            "next_cursor": "_".join(_late_key(page[-1])) if len(remaining) > limit else None}


def _late_key(item: Late) -> tuple[str, str]:
    return item.due_on.isoformat(), str(item.event.id)


@router.get("/{contract_id}", summary="One contract: events, hand-over steps and the dossier checklist")
def read_contract(contract_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                  x_purpose: XPurpose = None) -> dict[str, Any]:
    session = uow.session
    decision = ctx.customers.authorize_contract(session, principal, x_purpose, audit, Action.CONTRACT_READ)
    contract = _known(session, audit, decision, contract_id, ContractLedger(session).get)
    ctx.customers.check_scope(session, audit, principal, decision, contract.customer_id)
    ctx.customers.record_contract(session, audit, decision, Action.CONTRACT_READ, str(contract.id),
                                  (contract.customer_id,))
    uow.commit()
    return _detail(ctx, session, contract)


@router.post("/{contract_id}/events", status_code=201, summary="Record a change, performance or termination",
             description="Each event starts its own one-month hand-over clock.")
def record_event(contract_id: uuid.UUID, body: EventIn, principal: CurrentPrincipal, ctx: Context, uow: Uow,
                 audit: Audit, x_purpose: XPurpose = None) -> dict[str, Any]:
    session = uow.session
    decision = ctx.customers.authorize_contract(session, principal, x_purpose, audit, Action.CONTRACT_EVENT)
    ledger_ = ContractLedger(session)
    contract = _known(session, audit, decision, contract_id, ledger_.get)
    ctx.customers.check_scope(session, audit, principal, decision, contract.customer_id)
    on = body.occurred_on or _today(ctx)
    if on > _today(ctx):
        raise InvalidInput("Events are recorded once they happened.",
                           errors=[FieldError("occurred_on", "not in the future")])
    event = ledger_.record_event(contract, body.kind, on, principal.id)
    ctx.customers.record_contract(session, audit, decision, Action.CONTRACT_EVENT, str(contract.id),
                                  (contract.customer_id,), extra={"kind": body.kind})
    uow.commit()
    return _event_view(event, _today(ctx))


def _step(step: Literal["handover", "archive"], event_id: uuid.UUID, body: StepIn, principal: Principal,
          ctx: Any, uow: Any, audit: Any, stated: str | None) -> dict[str, Any]:
    session = uow.session
    action = Action.CONTRACT_HANDOVER if step == "handover" else Action.CONTRACT_ARCHIVE
    decision = ctx.customers.authorize_contract(session, principal, stated, audit, action)
    ledger_ = ContractLedger(session)
    event, contract = _known(session, audit, decision, event_id, ledger_.event)
    ctx.customers.check_scope(session, audit, principal, decision, contract.customer_id)
    on = body.on or _today(ctx)
    if on > _today(ctx):
        raise InvalidInput("Steps are recorded once done.", errors=[FieldError("on", "not in the future")])
    if step == "handover":
        ledger_.hand_over(event, on, principal.id)
    else:
        ledger_.archive(event, on)
    ctx.customers.record_contract(session, audit, decision, action, str(contract.id),
                                  (contract.customer_id,), extra={"step": step, "event": str(event.id)})
    uow.commit()
    return _event_view(event, _today(ctx))


@router.post("/events/{event_id}/handover", summary="The credit manager received the contract dossier (credit manager)",
             description="Due within one month of the event; starts the one-month archiving clock.")
def hand_over(event_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
              body: StepIn | None = None, x_purpose: XPurpose = None) -> dict[str, Any]:
    return _step("handover", event_id, body or StepIn(), principal, ctx, uow, audit, x_purpose)


@router.post("/events/{event_id}/archive", summary="The contract dossier went on to the archive",
             description="Due within one month of the hand-over.")
def archive_step(event_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                 body: StepIn | None = None, x_purpose: XPurpose = None) -> dict[str, Any]:
    return _step("archive", event_id, body or StepIn(), principal, ctx, uow, audit, x_purpose)
