"""The contract ledger's rules (DOMAIN.md "Contracts", 004 §3).

- Numbers: `<DEPT>-<year>-<NNNN>` per department and year, consecutive, never reused: the
  counter row is locked and incremented in the transaction that inserts the contract, so a
  rolled-back creation gives its number back and concurrent creations queue on the lock.
- Events (signed, changed, performed, terminated) each start the hand-over clock: the contract
  handler hands the contract dossier to the credit manager within one month, the credit manager
  hands it to the archive within one month more. A step not done by its due date is overdue.
- Due dates are business dates in the company time zone; a month is a calendar month (the
  same day next month, or the month's last day).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime

from dateutil.relativedelta import relativedelta
from sqlalchemy import and_, func, insert, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.contracts.models import Contract, ContractCounter, ContractEvent
from archive.documents.models import Document
from archive.errors import Conflict, FieldError, InvalidInput, NotFound
from archive.identity.models import Department

EVENT_KINDS = ("signed", "changed", "performed", "terminated")
# What may follow what: a terminated contract takes no further events.
NEXT = {"signed": {"changed", "performed", "terminated"}, "changed": {"changed", "performed", "terminated"},
        "performed": {"changed", "terminated"}, "terminated": set()}
HANDOVER_MONTHS = 1
ARCHIVE_MONTHS = 1


def due(start: date, months: int) -> date:
    result: date = start + relativedelta(months=months)
    return result


@dataclass(frozen=True, slots=True)
class Late:
    """One overdue step of one contract event."""

    event: ContractEvent
    contract: Contract
    step: str  # handover | archive
    due_on: date
    days_late: int


class ContractLedger:
    def __init__(self, session: Session) -> None:
        self.session = session

    # -- numbers ---------------------------------------------------------------------------------

    def next_number(self, department: Department, year: int) -> tuple[int, str]:
        """Take the next number of the department's year (lock held until commit)."""
        counter = self.session.scalar(select(ContractCounter).where(
            ContractCounter.department_id == department.id, ContractCounter.year == year).with_for_update())
        if counter is None:
            try:
                with self.session.begin_nested():
                    self.session.execute(insert(ContractCounter).values(department_id=department.id, year=year,
                                                                        last=0))
            except IntegrityError:
                pass  # another creation made the row first; lock theirs
            counter = self.session.scalar(select(ContractCounter).where(
                ContractCounter.department_id == department.id, ContractCounter.year == year)
                .with_for_update().execution_options(populate_existing=True))
            assert counter is not None
        counter.last += 1
        self.session.flush()
        return counter.last, f"{department.code}-{year}-{counter.last:04d}"

    def create(self, *, customer_id: uuid.UUID, department: Department, title: str, signed_on: date,
               handler_id: uuid.UUID | None, recorded_by: uuid.UUID | None) -> Contract:
        title = title.strip()
        if not title or len(title) > 200:
            raise InvalidInput("A contract needs a title.", errors=[FieldError("title", "1 to 200 characters")])
        seq, number = self.next_number(department, signed_on.year)
        contract = Contract(number=number, department_id=department.id, year=signed_on.year, seq=seq,
                            customer_id=customer_id, title=title, handler_id=handler_id, status="signed")
        self.session.add(contract)
        self.session.flush()
        self._event(contract, "signed", signed_on, recorded_by)
        return contract

    # -- events and steps -----------------------------------------------------------------------

    def _event(self, contract: Contract, kind: str, on: date, recorded_by: uuid.UUID | None) -> ContractEvent:
        event = ContractEvent(contract_id=contract.id, kind=kind, occurred_on=on, recorded_by=recorded_by,
                              handover_due=due(on, HANDOVER_MONTHS))
        self.session.add(event)
        self.session.flush()
        return event

    def record_event(self, contract: Contract, kind: str, on: date, recorded_by: uuid.UUID | None) -> ContractEvent:
        if kind not in EVENT_KINDS or kind == "signed":
            raise InvalidInput("Unknown contract event.", errors=[FieldError(
                "kind", "changed, performed or terminated (signed is recorded when the contract is created)")])
        if kind not in NEXT[contract.status]:
            raise Conflict(f"Contract {contract.number} is {contract.status}; it cannot be {kind} now.")
        latest = self.session.scalar(select(func.max(ContractEvent.occurred_on))
                                     .where(ContractEvent.contract_id == contract.id))
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
        self.session.flush()
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
        self.session.flush()
        return event

    def get(self, contract_id: uuid.UUID) -> Contract:
        contract = self.session.get(Contract, contract_id)
        if contract is None:
            raise NotFound("No such contract.")
        return contract

    def event(self, event_id: uuid.UUID) -> tuple[ContractEvent, Contract]:
        event = self.session.get(ContractEvent, event_id)
        if event is None:
            raise NotFound("No such contract event.")
        return event, self.get(event.contract_id)

    def document_kinds(self, contract_id: uuid.UUID) -> Sequence[str]:
        """The kinds of the documents filed under the contract (for its dossier checklist)."""
        return self.session.scalars(select(Document.kind).where(Document.contract_id == contract_id)
                                    .distinct()).all()

    def events(self, contract_id: uuid.UUID) -> Sequence[ContractEvent]:
        return self.session.scalars(select(ContractEvent).where(ContractEvent.contract_id == contract_id)
                                    .order_by(ContractEvent.occurred_on, ContractEvent.created_at)).all()

    # -- late steps -----------------------------------------------------------------------------

    def late(self, today: date, *, department_ids: Sequence[uuid.UUID] | None = None) -> list[Late]:
        """Every step past its due date and not done (as of `today`, a business date)."""
        query = (select(ContractEvent, Contract).join(Contract, Contract.id == ContractEvent.contract_id)
                 .where(or_(and_(ContractEvent.handed_over_on.is_(None), ContractEvent.handover_due < today),
                            and_(ContractEvent.handed_over_on.is_not(None), ContractEvent.archived_on.is_(None),
                                 ContractEvent.archive_due < today)))
                 .order_by(ContractEvent.handover_due))
        if department_ids is not None:
            query = query.where(Contract.department_id.in_(department_ids))
        out = []
        for event, contract in self.session.execute(query).all():
            step, due_on = (("handover", event.handover_due) if event.handed_over_on is None
                            else ("archive", event.archive_due))
            assert due_on is not None
            out.append(Late(event, contract, step, due_on, (today - due_on).days))
        return out

    def flag_late(self, today: date, now: datetime) -> int:
        """Mark newly overdue steps (the worker's job); returns how many were new."""
        fresh = 0
        for item in self.late(today):
            if item.event.overdue_flagged_at is None:
                item.event.overdue_flagged_at = now
                fresh += 1
        self.session.flush()
        return fresh
