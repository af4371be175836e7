"""Reading, searching, correcting and moving customers through the gate; the contract ledger's
decisions (clear data about customers, decided and logged the same way)."""

from __future__ import annotations

import uuid

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.customers.models import (
    STATUSES,
    TRANSITIONS,
    Customer,
    CustomerCorrection,
    CustomerStatusChange,
)
from archive.customers.repository import CustomerFilter, CustomerRepository
from archive.customers.service import CustomerRegistry, check_correction, index_kind
from archive.db import utcnow
from archive.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionRequired,
)
from archive.gate.core import LOAN_POINTER, etag
from archive.gate.intake import IntakeSteps
from archive.identity.principal import Principal
from archive.identity.repository import IdentityRepository
from archive.policy import evaluate_scope
from archive.policy.decision import PurposeDecision, Visibility
from archive.vocabulary import Action
from audit.events import Decision


class CustomerGate(IntakeSteps):
    """Decides, audits, then opens exactly the fields the decision admitted."""


    def read(self, session: Session, principal: Principal, stated: str | None, customer_id: uuid.UUID,
             auditor: Auditor) -> dict[str, object]:
        action = Action.CUSTOMER_READ
        decision = self._decide(session, principal, stated, action, auditor, customer_id)
        customer = self._in_scope(session, auditor, principal, decision, customer_id)
        grant = self._grant(session, auditor, decision, action, [customer], str(customer.id))
        return self.render(grant, session, customer)

    def change_status(self, session: Session, principal: Principal, stated: str | None, auditor: Auditor,
                      customer_id: uuid.UUID, to: str, reason: str, if_match: str | None) -> dict[str, object]:
        """A lifecycle step (DOMAIN.md): only along the allowed transitions, with a reason, kept in
        the customer's status history; `suspended` and `ended` leave the active register."""
        action = Action.CUSTOMER_STATUS
        decision = self._decide(session, principal, stated, action, auditor, customer_id)
        customer = self._in_scope(session, auditor, principal, decision, customer_id)
        self._check_version(customer, if_match)
        if to not in STATUSES:
            raise InvalidInput("Unknown status.", errors=[FieldError("status", f"one of {', '.join(STATUSES)}")])
        if to not in TRANSITIONS[customer.status]:
            allowed = ", ".join(sorted(TRANSITIONS[customer.status])) or "none (it has ended)"
            raise Conflict(f"Customer {customer.code} is {customer.status}; it can go to: {allowed}.")
        if not reason.strip():
            raise InvalidInput("Say why the relationship changes.", errors=[FieldError("reason", "required")])
        before = customer.status
        customer.status, customer.updated_at = to, utcnow()
        session.add(CustomerStatusChange(customer_id=customer.id, from_status=before, to_status=to,
                                         reason=reason.strip(), changed_by=principal.id))
        session.flush()
        grant = self._grant(session, auditor, decision, action, [customer], str(customer.id),
                            fields=("status",), extra={"from": before, "to": to})
        return self.render(grant, session, customer)

    def assign_owner(self, session: Session, principal: Principal, stated: str | None, auditor: Auditor,
                     customer_id: uuid.UUID, owner: str | None, reason: str,
                     if_match: str | None) -> dict[str, object]:
        """The manager's say on ownership (003): any staff member of the customer's department,
        or nobody; the change is kept in the correction history with its reason."""
        action = Action.CUSTOMER_ASSIGN
        decision = self._decide(session, principal, stated, action, auditor, customer_id)
        customer = self._in_scope(session, auditor, principal, decision, customer_id)
        self._check_version(customer, if_match)
        new_owner = IdentityRepository(session).user_by_username(owner) if owner else None
        if owner and (new_owner is None or new_owner.kind != "staff" or new_owner.disabled
                      or new_owner.department_id != customer.department_id):
            raise InvalidInput("The new owner must be an active staff member of the customer's department.",
                               errors=[FieldError("owner", "no such staff user in that department")])
        if not reason.strip():
            raise InvalidInput("Say why the customer changes hands.", errors=[FieldError("reason", "required")])
        previous = self.names.username(session, customer.owner_id)
        customer.owner_id, customer.updated_at = (new_owner.id if new_owner else None), utcnow()
        session.flush()
        session.add(CustomerCorrection(customer_id=customer.id, field="owner", previous_clear=previous,
                                       version=customer.version, reason=reason.strip(),
                                       purpose=decision.purpose.value if decision.purpose else "",
                                       changed_by=principal.id))
        session.flush()
        grant = self._grant(session, auditor, decision, action, [customer], str(customer.id), fields=("owner",),
                            extra={"owner": str(new_owner.id) if new_owner else ""})
        return self.render(grant, session, customer)

    def history(self, session: Session, principal: Principal, stated: str | None, auditor: Auditor,
                customer_id: uuid.UUID) -> dict[str, object]:
        """Who changed what, when and why — lifecycle steps, corrections and owner changes; field
        names only, never values (the previous ones stay sealed in the history table)."""
        action = Action.CUSTOMER_READ
        decision = self._decide(session, principal, stated, action, auditor, customer_id)
        customer = self._in_scope(session, auditor, principal, decision, customer_id)
        steps = session.scalars(select(CustomerStatusChange).where(CustomerStatusChange.customer_id == customer.id)
                                .order_by(CustomerStatusChange.changed_at)).all()
        fixes = session.scalars(select(CustomerCorrection).where(CustomerCorrection.customer_id == customer.id)
                                .order_by(CustomerCorrection.changed_at)).all()
        self._grant(session, auditor, decision, action, [customer], str(customer.id), fields=(),
                    extra={"view": "history"})
        return {
            "id": str(customer.id), "code": customer.code, "status": customer.status,
            "status_changes": [{"from": c.from_status, "to": c.to_status, "reason": c.reason,
                                "by": self.names.username(session, c.changed_by), "at": c.changed_at}
                               for c in steps],
            "changes": [{"field": c.field, "reason": c.reason, "purpose": c.purpose, "version": c.version,
                         "by": self.names.username(session, c.changed_by), "at": c.changed_at} for c in fixes],
        }

    def authorize_contract(self, session: Session, principal: Principal, stated: str | None, auditor: Auditor,
                           action: Action) -> PurposeDecision:
        """The purpose steps for a ledger action (the caller then checks each contract's scope)."""
        return self._decide(session, principal, stated, action, auditor)

    def check_scope(self, session: Session, auditor: Auditor, principal: Principal, decision: PurposeDecision,
                    customer_id: uuid.UUID) -> None:
        """Step 4 for something that belongs to one customer (a contract): 403 or 404 outside it."""
        self._in_scope(session, auditor, principal, decision, customer_id)

    @staticmethod
    def record_contract(session: Session, auditor: Auditor, decision: PurposeDecision, action: Action,
                        resource_id: str, customer_ids: tuple[uuid.UUID, ...] = (), **details: object) -> None:
        """The allowed event, in the transaction of the act (the route commits both)."""
        auditor.record(session, action.value, Decision.ALLOWED, resource_type="contract", resource_id=resource_id,
                       customer_ids=customer_ids, purpose=decision.purpose.value if decision.purpose else "",
                       reason=decision.reason, policy_rule=decision.rule_text,
                       policy_version=decision.policy_version, **details)

    def read_self(self, session: Session, principal: Principal, auditor: Auditor) -> dict[str, object]:
        """A customer's own record on /api/v1/me: purpose implied (data_subject_request), scope self."""
        action = Action.CUSTOMER_READ
        decision = self.policy.decide(frozenset(principal.roles), action, None)
        if not principal.is_customer or principal.customer_id is None or not decision.allowed:
            raise self._refuse(session, auditor, action, NotFound("No customer record belongs to this login."),
                               purpose=decision.purpose.value if decision.purpose else "")
        customer = self._in_scope(session, auditor, principal, decision, principal.customer_id)
        grant = self._grant(session, auditor, decision, action, [customer], str(customer.id))
        return self.render(grant, session, customer)

    def search(self, session: Session, principal: Principal, stated: str | None, auditor: Auditor,
               field: str, value: str) -> dict[str, object]:
        """Exact search by ID/tax number, phone or e-mail through the blind index. Matches in the
        caller's scope are shown as the purpose admits; staff who could borrow learn how many
        matches lie outside it (and where to ask), others learn nothing of them."""
        action = Action.CUSTOMER_SEARCH
        decision = self._decide(session, principal, stated, action, auditor)
        candidates = [c.hex() for c in self.index.candidates(index_kind(field), value)]
        columns = ([Customer.id_number_bidx, Customer.tax_number_bidx] if field == "id_number"
                   else [getattr(Customer, f"{field}_bidx")])
        matches = session.scalars(select(Customer).where(or_(*(col.in_(candidates) for col in columns)))
                                  .order_by(Customer.id).limit(100)).all()
        shown, elsewhere = [], 0
        for customer in matches:
            if evaluate_scope(decision, self._relation(principal, decision, customer)).in_scope:
                shown.append(customer)
            else:
                elsewhere += 1
        hmacs = tuple(self.lookup.tokens(field, value)) if self.lookup is not None else ()
        grant = self._grant(session, auditor, decision, action, shown, "", lookup_hmacs=hmacs,
                            extra={"field": field, "outside_scope": str(elsewhere)})
        result: dict[str, object] = {"items": [self.render(grant, session, c) for c in shown], "next_cursor": None}
        if elsewhere and decision.could_borrow:
            result["outside_scope"] = elsewhere
            result["detail"] = f"{elsewhere} more outside your scope; {LOAN_POINTER}"
        return result

    def update(self, session: Session, principal: Principal, stated: str | None, auditor: Auditor,
               customer_id: uuid.UUID, if_match: str | None, changes: dict[str, object], reason: str,
               registry: CustomerRegistry) -> dict[str, object]:
        """A correction: only of fields the purpose shows in clear, only on the version the caller
        saw (If-Match), with the event in the same transaction as the change."""
        action = Action.CUSTOMER_UPDATE
        decision = self._decide(session, principal, stated, action, auditor, customer_id)
        purpose = decision.purpose.value if decision.purpose else ""
        customer = self._in_scope(session, auditor, principal, decision, customer_id)
        if not if_match:
            raise PreconditionRequired(f"Send If-Match with the ETag you read (now {etag(customer)}), so a "
                                       "correction never overwrites one you have not seen.")
        self._check_version(customer, if_match)
        clean = check_correction(changes)
        plan = decision.fields or {}
        hidden = sorted(f for f in clean if f not in plan or plan[f].visibility_for(customer.kind) is not
                        Visibility.CLEAR)
        if hidden:
            raise self._refuse(session, auditor, action, Forbidden(
                f"The purpose {purpose} does not let you see, so not correct: {', '.join(hidden)}."),
                purpose=purpose, customer=customer.id)
        if not reason.strip():
            raise InvalidInput("Say why you correct this record.", errors=[FieldError("reason", "required")])
        changed = registry.correct(customer, clean, reason=reason.strip(), purpose=purpose,
                                   changed_by=None if principal.is_customer else principal.id)
        grant = self._grant(session, auditor, decision, action, [customer], str(customer.id),
                            fields=tuple(changed), extra={"version": str(customer.version)})
        return self.render(grant, session, customer)

    def list(self, session: Session, principal: Principal, stated: str | None, auditor: Auditor, *,
             limit: int, after: uuid.UUID | None, filters: CustomerFilter | None = None) -> list[dict[str, object]]:
        action = Action.CUSTOMER_LIST
        decision = self._decide(session, principal, stated, action, auditor)
        customers = list(CustomerRepository(session).list_in_scope(
            decision.scope, user_id=principal.id, department_id=principal.department_id, limit=limit, after=after,
            filters=filters))
        grant = self._grant(session, auditor, decision, action, customers, "")
        return [self.render(grant, session, c) for c in customers]
