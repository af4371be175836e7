"""The contract ledger's rules (DOMAIN.md "Contracts", 004 §3).

- Numbers: `<DEPT>-<year>-<NNNN>` per department and year, consecutive, never reused: the
  counter row is incremented in the transaction that inserts the contract (one upsert that
  holds its row lock until the end), so a rolled-back creation gives its number back and
  concurrent creations queue on the lock.
- Events (signed, changed, performed, terminated) each start the hand-over clock: the contract
  handler hands the contract dossier to the credit manager within one month, the credit manager
  hands it to the archive within one month more. A step not done by its due date is overdue.
- Due dates are business dates in the company time zone; a month is a calendar month (the
  same day next month, or the month's last day).

`ContractLedger` holds these rules on a session (the worker and the demo use it inside their
own unit of work); `ContractService` is what the HTTP API calls: each method is one unit of
work that has the gate decide, applies the rules and records the allowed event.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, tzinfo
from pathlib import Path
from typing import Literal, Self, TypeVar

from dateutil.relativedelta import relativedelta
from sqlalchemy.orm import Session

from archive.contracts.checklist import Dossier, Requirements
from archive.contracts.models import Contract, ContractEvent
from archive.contracts.repository import ContractRepository, ContractRow, ContractScope, LateRow, LedgerFilter
from archive.customers.repository import CustomerRepository
from archive.db import UnitOfWork
from archive.documents.repository import DocumentRepository
from archive.errors import Conflict, FieldError, InvalidInput, NotFound
from archive.gate import Caller, Gate
from archive.identity.models import Department
from archive.policy.decision import PurposeDecision
from archive.vocabulary import Action

T = TypeVar("T")

EVENT_KINDS = ("signed", "changed", "performed", "terminated")
# What may follow what: a terminated contract takes no further events.
NEXT = {"signed": {"changed", "performed", "terminated"}, "changed": {"changed", "performed", "terminated"},
        "performed": {"changed", "terminated"}, "terminated": set()}
HANDOVER_MONTHS = 1
ARCHIVE_MONTHS = 1
MAX_TITLE = 200


def due(start: date, months: int) -> date:
    result: date = start + relativedelta(months=months)
    return result


def open_step(event: ContractEvent) -> tuple[str, date | None]:
    """The step an event waits for, with its due date (None once archived)."""
    if event.handed_over_on is None:
        return "handover", event.handover_due
    if event.archived_on is None:
        return "archive", event.archive_due
    return "done", None


def is_late(event: ContractEvent, today: date) -> bool:
    step, due_on = open_step(event)
    return step != "done" and due_on is not None and due_on < today


@dataclass(frozen=True, slots=True)
class Late:
    """One overdue step of one contract event."""

    event: ContractEvent
    step: str  # handover | archive
    due_on: date
    days_late: int


def late_step(event: ContractEvent, today: date) -> Late:
    step, due_on = open_step(event)
    assert due_on is not None
    return Late(event, step, due_on, (today - due_on).days)


class ContractLedger:
    """The ledger's rules on one session: flushes, never commits (the caller's unit of work does)."""

    def __init__(self, session: Session) -> None:
        self.repo = ContractRepository(session)

    def number(self, department: Department, year: int) -> tuple[int, str]:
        """Take the next number of the department's year (its counter stays locked until commit)."""
        seq = self.repo.take_number(department.id, year)
        return seq, f"{department.code}-{year}-{seq:04d}"

    def create(self, *, customer_id: uuid.UUID, department: Department, title: str, signed_on: date,
               handler_id: uuid.UUID | None, recorded_by: uuid.UUID | None) -> Contract:
        title = title.strip()
        if not title or len(title) > MAX_TITLE:
            raise InvalidInput("A contract needs a title.", errors=[FieldError("title", "1 to 200 characters")])
        seq, number = self.number(department, signed_on.year)
        contract = Contract(number=number, department_id=department.id, year=signed_on.year, seq=seq,
                            customer_id=customer_id, title=title, handler_id=handler_id, status="signed")
        self.repo.add(contract)
        self._event(contract, "signed", signed_on, recorded_by)
        return contract

    def _event(self, contract: Contract, kind: str, on: date, recorded_by: uuid.UUID | None) -> ContractEvent:
        event = ContractEvent(contract_id=contract.id, kind=kind, occurred_on=on, recorded_by=recorded_by,
                              handover_due=due(on, HANDOVER_MONTHS))
        self.repo.add(event)
        return event

    def record_event(self, contract: Contract, kind: str, on: date, recorded_by: uuid.UUID | None) -> ContractEvent:
        if kind not in EVENT_KINDS or kind == "signed":
            raise InvalidInput("Unknown contract event.", errors=[FieldError(
                "kind", "changed, performed or terminated (signed is recorded when the contract is created)")])
        if kind not in NEXT[contract.status]:
            raise Conflict(f"Contract {contract.number} is {contract.status}; it cannot be {kind} now.")
        latest = self.repo.last_event_on(contract.id)
        if latest is not None and on < latest:  # the ledger reads in the order things happened
            raise InvalidInput("An event cannot precede the contract's last recorded event (or its signing).",
                               errors=[FieldError("occurred_on", f"on or after {latest.isoformat()}")])
        contract.status = kind
        return self._event(contract, kind, on, recorded_by)

    def hand_over(self, event: ContractEvent, on: date, received_by: uuid.UUID) -> ContractEvent:
        """The credit manager received and verified the contract dossier."""
        if event.handed_over_on is not None:
            raise Conflict("This hand-over is already recorded.")
        if on < event.occurred_on:
            raise InvalidInput("A hand-over cannot precede its event.",
                               errors=[FieldError("on", f"on or after {event.occurred_on.isoformat()}")])
        event.handed_over_on, event.handed_over_to = on, received_by
        event.archive_due = due(on, ARCHIVE_MONTHS)
        event.overdue_flagged_at = None  # the flag is the open step's: a late archiving step is flagged anew
        self.repo.flush()
        return event

    def archive(self, event: ContractEvent, on: date) -> ContractEvent:
        """The dossier went on to the archive."""
        if event.handed_over_on is None:
            raise Conflict("Record the hand-over to the credit manager first.")
        if event.archived_on is not None:
            raise Conflict("This archiving step is already recorded.")
        if on < event.handed_over_on:
            raise InvalidInput("Archiving cannot precede the hand-over.",
                               errors=[FieldError("on", f"on or after {event.handed_over_on.isoformat()}")])
        event.archived_on = on
        self.repo.flush()
        return event

    def get(self, contract_id: uuid.UUID) -> Contract:
        contract = self.repo.get(contract_id)
        if contract is None:
            raise NotFound("No such contract.")
        return contract

    def event(self, event_id: uuid.UUID) -> tuple[ContractEvent, Contract]:
        event = self.repo.event(event_id)
        if event is None:
            raise NotFound("No such contract event.")
        return event, self.get(event.contract_id)

    def events(self, contract_id: uuid.UUID) -> Sequence[ContractEvent]:
        return self.repo.events(contract_id)

    def late(self, today: date) -> list[Late]:
        """Every step past its due date and not done (as of `today`, a business date)."""
        return [late_step(event, today) for event in self.repo.late(today)]

    def flag_late(self, today: date, now: datetime) -> int:
        """Mark newly overdue steps (the worker's job); returns how many were new."""
        fresh = 0
        for event in self.repo.late(today):
            if event.overdue_flagged_at is None:
                event.overdue_flagged_at = now
                fresh += 1
        self.repo.flush()
        return fresh


# --- the governed ledger (what the HTTP API calls) ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class NewContract:
    customer_id: uuid.UUID
    title: str
    signed_on: date | None = None  # default: today


@dataclass(frozen=True, slots=True)
class EventView:
    id: uuid.UUID
    kind: str
    occurred_on: date
    handover_due: date
    handed_over_on: date | None
    archive_due: date | None
    archived_on: date | None
    late: bool

    @classmethod
    def of(cls, event: ContractEvent, today: date) -> EventView:
        return cls(event.id, event.kind, event.occurred_on, event.handover_due, event.handed_over_on,
                   event.archive_due, event.archived_on, is_late(event, today))


@dataclass(frozen=True, slots=True)
class ContractView:
    id: uuid.UUID
    number: str
    department: str | None
    year: int
    customer_id: uuid.UUID
    customer_code: str | None
    title: str
    status: str
    handler: str | None
    created_at: datetime

    @classmethod
    def of(cls, row: ContractRow, **more: object) -> Self:
        """The view of a ledger row; a subclass's own fields as keywords."""
        c = row.contract
        return cls(id=c.id, number=c.number, department=row.department, year=c.year, customer_id=c.customer_id,
                   customer_code=row.customer_code, title=c.title, status=c.status, handler=row.handler,
                   created_at=c.created_at, **more)


@dataclass(frozen=True, slots=True)
class ContractDetail(ContractView):
    events: list[EventView]
    dossier: Dossier


@dataclass(frozen=True, slots=True)
class LateStepView(ContractView):
    event: EventView
    step: str
    due_on: date
    days_late: int


@dataclass(frozen=True, slots=True)
class LedgerPage:
    items: list[ContractView]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class OverduePage:
    items: list[LateStepView]
    count: int
    next_cursor: str | None


def number_parts(number: str) -> tuple[str, int, int]:
    """(department code, year, sequence) of a contract number used as a cursor."""
    code, _, rest = number.rpartition("-")
    code, _, year = code.rpartition("-")
    if not (code and year.isdigit() and rest.isdigit()):
        raise InvalidInput("Not a cursor from this list.", errors=[FieldError("cursor", "a contract number")])
    return code, int(year), int(rest)


def late_cursor(cursor: str) -> tuple[date, uuid.UUID]:
    """(due date, event id) of an overdue list's cursor `<due_on>_<event id>`."""
    due_on, _, event_id = cursor.partition("_")
    try:
        return date.fromisoformat(due_on), uuid.UUID(event_id)
    except ValueError:
        raise InvalidInput("Not a cursor from this list.",
                           errors=[FieldError("cursor", "<due date>_<event id>")]) from None


class ContractService:
    """The ledger as the API offers it. Each call is one unit of work: the gate decides the
    purpose and the customer's scope (a refusal writes its event through the unit of work),
    the ledger's rules act, and the gate writes the allowed event in the same transaction."""

    def __init__(self, uow: UnitOfWork, gate: Gate, *, zone: tzinfo, policy_dir: Path) -> None:
        self.uow, self.gate, self.zone, self.policy_dir = uow, gate, zone, policy_dir

    def today(self) -> date:
        return datetime.now(self.zone).date()

    def create(self, caller: Caller, new: NewContract) -> ContractDetail:
        with self.uow:
            decision = self._decide(caller, Action.CONTRACT_CREATE)
            customer = CustomerRepository(self.uow.session).get(new.customer_id)
            self.gate.check_scope(self.uow, caller, decision, customer)
            assert customer is not None  # check_scope refuses a missing one
            ledger = ContractLedger(self.uow.session)
            department = ledger.repo.department(customer.department_id)
            if department is None:
                raise InvalidInput("The customer has no department.", errors=[FieldError("customer_id", "unknown")])
            signed_on = self._not_after_today(new.signed_on, "signed_on", "A contract is recorded once signed.")
            contract = ledger.create(customer_id=customer.id, department=department, title=new.title,
                                     signed_on=signed_on, handler_id=caller.principal.id,
                                     recorded_by=caller.principal.id)
            self._admit(caller, decision, contract.id, [customer.id], extra={"number": contract.number})
            return self._detail(ledger, contract)

    def ledger(self, caller: Caller, filters: LedgerFilter, *, limit: int, cursor: str | None) -> LedgerPage:
        """Contracts in the caller's scope by number, highest first."""
        with self.uow:
            decision = self._decide(caller, Action.CONTRACT_LIST)
            before = number_parts(cursor) if cursor else None
            rows = ContractRepository(self.uow.session).page(self._scope(caller, decision), filters,
                                                             limit=limit + 1, before=before)
            page = rows[:limit]
            self._admit(caller, decision, None, {r.contract.customer_id for r in page})
            return LedgerPage([ContractView.of(r) for r in page],
                              page[-1].contract.number if len(rows) > limit else None)

    def overdue(self, caller: Caller, *, department: str | None, limit: int, cursor: str | None) -> OverduePage:
        """Every late step in the caller's scope, longest overdue first, with how many in all."""
        with self.uow:
            decision = self._decide(caller, Action.CONTRACT_LIST)
            after = late_cursor(cursor) if cursor else None
            today = self.today()
            rows, count = ContractRepository(self.uow.session).late_in_scope(
                today, self._scope(caller, decision), department=department, limit=limit + 1, after=after)
            page = rows[:limit]
            self._admit(caller, decision, "overdue", {r.row.contract.customer_id for r in page},
                        extra={"count": str(count)})
            last = page[-1] if len(rows) > limit else None
            return OverduePage([self._late_view(r, today) for r in page], count,
                               f"{last.due_on.isoformat()}_{last.event.id}" if last else None)

    def read(self, caller: Caller, contract_id: uuid.UUID) -> ContractDetail:
        with self.uow:
            decision = self._decide(caller, Action.CONTRACT_READ)
            ledger = ContractLedger(self.uow.session)
            contract = self._known(caller, decision, contract_id, ledger.get)
            self._in_scope(caller, decision, contract)
            self._admit(caller, decision, contract.id, [contract.customer_id])
            return self._detail(ledger, contract)

    def record_event(self, caller: Caller, contract_id: uuid.UUID, kind: str, occurred_on: date | None) -> EventView:
        with self.uow:
            decision = self._decide(caller, Action.CONTRACT_EVENT)
            ledger = ContractLedger(self.uow.session)
            contract = self._known(caller, decision, contract_id, ledger.get)
            self._in_scope(caller, decision, contract)
            on = self._not_after_today(occurred_on, "occurred_on", "Events are recorded once they happened.")
            event = ledger.record_event(contract, kind, on, caller.principal.id)
            self._admit(caller, decision, contract.id, [contract.customer_id], extra={"kind": kind})
            return EventView.of(event, self.today())

    def step(self, caller: Caller, event_id: uuid.UUID, step: Literal["handover", "archive"], on: date | None
             ) -> EventView:
        """The credit manager received the dossier (`handover`), or it went on to the archive."""
        with self.uow:
            decision = self._decide(caller, Action.CONTRACT_HANDOVER if step == "handover"
                                    else Action.CONTRACT_ARCHIVE)
            ledger = ContractLedger(self.uow.session)
            event, contract = self._known(caller, decision, event_id, ledger.event)
            self._in_scope(caller, decision, contract)
            day = self._not_after_today(on, "on", "Steps are recorded once done.")
            if step == "handover":
                ledger.hand_over(event, day, caller.principal.id)
            else:
                ledger.archive(event, day)
            self._admit(caller, decision, contract.id, [contract.customer_id],
                        extra={"step": step, "event": str(event.id)})
            return EventView.of(event, self.today())

    # -- helpers -----------------------------------------------------------------------------------

    def _not_after_today(self, day: date | None, field: str, why: str) -> date:
        today = self.today()
        if day is not None and day > today:
            raise InvalidInput(why, errors=[FieldError(field, "not in the future")])
        return day or today

    @staticmethod
    def _scope(caller: Caller, decision: PurposeDecision) -> ContractScope:
        """The decision's scope as a filter on the contracts' customers."""
        return ContractScope(decision.scope, caller.principal.id, caller.principal.department_id)

    def _detail(self, ledger: ContractLedger, contract: Contract) -> ContractDetail:
        row = ledger.repo.row(contract.id)
        assert row is not None
        events = ledger.events(contract.id)
        kinds = DocumentRepository(self.uow.session).kinds_filed_under(contract.id)
        requirements = Requirements.load(self.policy_dir)  # policy data: read as it stands now
        dossier = requirements.checklist(performed=any(e.kind == "performed" for e in events), present=kinds)
        today = self.today()
        return ContractDetail.of(row, events=[EventView.of(e, today) for e in events], dossier=dossier)

    @staticmethod
    def _late_view(late: LateRow, today: date) -> LateStepView:
        step = late_step(late.event, today)
        return LateStepView.of(late.row, event=EventView.of(late.event, today), step=step.step, due_on=step.due_on,
                               days_late=step.days_late)

    # -- the gate's steps ----------------------------------------------------------------------------

    def _decide(self, caller: Caller, action: Action) -> PurposeDecision:
        """Steps 2 and 3. The ledger is decided without a customer (it names many): no
        break-glass reaches it."""
        return self.gate.decide(self.uow, caller, action, resource_type="contract")

    def _known(self, caller: Caller, decision: PurposeDecision, key: uuid.UUID, find: Callable[[uuid.UUID], T]) -> T:
        """The contract or event, or a 404 that is an audit event like every other refusal (API.md)."""
        try:
            return find(key)
        except NotFound as error:
            raise self.gate.refuse(caller, decision, error, resource_type="contract", resource_id=str(key)) from None

    def _in_scope(self, caller: Caller, decision: PurposeDecision, contract: Contract) -> None:
        """Step 4 on the contract's customer (403 with the loan pointer, or 404)."""
        customer = CustomerRepository(self.uow.session).get(contract.customer_id)
        self.gate.check_scope(self.uow, caller, decision, customer, missing="No such contract.",
                              resource_type="contract", resource_id=str(contract.id))

    def _admit(self, caller: Caller, decision: PurposeDecision, contract: uuid.UUID | str | None,
               customer_ids: Iterable[uuid.UUID], **details: object) -> None:
        """The allowed event, in the act's transaction. A ledger entry is clear data about
        customers: the admission opens no sealed field."""
        self.gate.admit(self.uow, caller, decision, customer_ids, resource_type="contract",
                        resource_id=str(contract or ""), opens=(), fields=(), categories=(), **details)
