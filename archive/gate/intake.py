"""Registering customers through the gate (DOMAIN.md "Intake"): the caller's scope, one record
per company (duplicates refused with a pointer only for those who may see it), doubts flagged."""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.customers.intake import NOT_COMPARABLE, Candidate, DuplicateCheck, Match, comparable_name
from archive.customers.models import Customer, CustomerReviewFlag
from archive.customers.service import CustomerRegistry, NewCustomer
from archive.db import new_id, utcnow
from archive.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
)
from archive.gate.core import GateCore
from archive.identity.models import Department, User
from archive.identity.principal import Principal
from archive.identity.repository import IdentityRepository
from archive.policy import evaluate_scope
from archive.policy.decision import PurposeDecision
from archive.vocabulary import Action, Scope
from crypto.keyring import KeyRing


class IntakeSteps(GateCore):
    """`create` and the import's authorisation, on top of the common steps."""

    def create(self, session: Session, principal: Principal, stated: str | None, auditor: Auditor,
               new: NewCustomer, registry: CustomerRegistry, ring: KeyRing) -> dict[str, object]:
        """Register a customer (DOMAIN.md "Intake"): within the caller's scope (a rep records
        their own, a head any in the department), refused when the ID or tax number is already
        registered, flagged for review on the same phone or a near-identical name."""
        action = Action.CUSTOMER_CREATE
        decision = self._decide(session, principal, stated, action, auditor)
        purpose = decision.purpose.value if decision.purpose else ""
        identity = IdentityRepository(session)
        department = (identity.department_by_code(new.department) if new.department
                      else session.get(Department, principal.department_id) if principal.department_id else None)
        owner = identity.user_by_username(new.owner) if new.owner else session.get(User, principal.id)
        problems = []
        if department is None:
            problems.append(FieldError("department", "no such department (give its code)"))
        if owner is None or owner.kind != "staff":
            problems.append(FieldError("owner", "no such staff user"))
        if problems or department is None or owner is None:
            raise InvalidInput("The new customer's department or owner is unknown.", errors=problems)
        if department.id != principal.department_id or (
                Scope.DEPARTMENT not in decision.scopes and owner.id != principal.id) or (
                owner.department_id != department.id):
            raise self._refuse(session, auditor, action, Forbidden(
                "You register customers for yourself" + (" or your department's staff" if Scope.DEPARTMENT in
                                                         decision.scopes else "") +
                "; a manager assigns them elsewhere."), purpose=purpose)
        if not comparable_name(self.index, new.kind, new.name):
            raise InvalidInput("The name cannot be compared with the register.",
                               errors=[FieldError("name", NOT_COMPARABLE)])
        sensitive = {"name": new.name, **new.sensitive}
        findings = DuplicateCheck(session, self.index).one(Candidate(
            kind=new.kind, name=new.name, id_number=sensitive.get("id_number"),
            tax_number=sensitive.get("tax_number"), phone=sensitive.get("phone")))
        if findings.refusals:
            raise self._refuse(session, auditor, action, self._duplicate(session, principal, purpose,
                                                                         findings.refusals[0]),
                               purpose=purpose, customer=findings.refusals[0].customer_id)
        customer_id = new_id()
        code = new.code or f"C-{customer_id.hex[-10:].upper()}"
        taken = Conflict(f"The customer code {code} is taken; choose another or leave it out to get one.")
        if session.scalar(select(Customer.id).where(Customer.code == code)) is not None:
            raise taken
        if session.in_transaction():
            # Nothing is written yet; release the (SQLite) write lock so the customer's data key
            # can be committed in its own transaction before anything is sealed with it.
            session.rollback()
        ring.dek_for_encrypt(customer_id)
        try:
            with session.begin_nested():
                customer = registry.register(customer_id=customer_id, code=code, kind=new.kind,
                                             department_id=department.id, owner_id=owner.id, status=new.status,
                                             profile=new.profile, sensitive=sensitive, created_by=principal.id)
        except IntegrityError:  # registered at the same moment by someone else
            raise taken from None
        for match in findings.flags:
            session.add(CustomerReviewFlag(customer_id=customer.id, other_customer_id=match.customer_id,
                                           reason="same_phone" if match.field == "phone" else "similar_name",
                                           score=match.score))
        session.flush()
        grant = self._grant(session, auditor, decision, action, [customer], str(customer.id),
                            extra={"review_flags": str(len(findings.flags))})
        shown = self.render(grant, session, customer)
        shown["review_flags"] = [self._flag_view(session, principal, purpose, m) for m in findings.flags]
        return shown

    def authorize_import(self, session: Session, principal: Principal, stated: str | None,
                         auditor: Auditor) -> PurposeDecision:
        """An import is `customer.create` for every row: the caller's purpose must allow it (the
        importer then keeps each row inside the decision's scope)."""
        return self._decide(session, principal, stated, Action.CUSTOMER_CREATE, auditor)

    # -- the contract ledger (clear data about customers; decided and logged the same way) --------

    def _duplicate(self, session: Session, principal: Principal, purpose: str, match: Match) -> Conflict:
        what = "ID number" if match.field == "id_number" else "tax number"
        if self._may_see(session, principal, purpose, match.customer_id):
            return Conflict(f"A customer with this {what} is already registered: {match.code} "
                            f"(GET /api/v1/customers/{match.customer_id}). One record per company.")
        return Conflict(f"A customer with this {what} is already registered (outside your scope); "
                        "one record per company — ask your department head to have it reassigned.")

    def _flag_view(self, session: Session, principal: Principal, purpose: str, match: Match) -> dict[str, object]:
        reason = "same_phone" if match.field == "phone" else "similar_name"
        if self._may_see(session, principal, purpose, match.customer_id):
            return {"reason": reason, "customer_id": str(match.customer_id), "code": match.code,
                    "score": match.score}
        return {"reason": reason, "customer_id": None, "code": None, "score": match.score}

    # -- the review list of possible duplicates ---------------------------------------------------

    def review_flags(self, session: Session, principal: Principal, stated: str | None, auditor: Auditor, *,
                     resolved: bool = False, limit: int = 100) -> list[dict[str, object]]:
        """Possible duplicates waiting for a person (the manager decides, 003): flags on customers
        in the caller's list scope, with both customers' codes where the caller may see them."""
        decision = self._decide(session, principal, stated, Action.CUSTOMER_LIST, auditor)
        query = (select(CustomerReviewFlag, Customer).join(Customer, Customer.id == CustomerReviewFlag.customer_id)
                 .where(CustomerReviewFlag.resolved_at.is_not(None) if resolved
                        else CustomerReviewFlag.resolved_at.is_(None))
                 .order_by(CustomerReviewFlag.created_at).limit(limit))
        rows = [(flag, customer) for flag, customer in session.execute(query).all()
                if evaluate_scope(decision, self._relation(principal, decision, customer)).in_scope]
        self._grant(session, auditor, decision, Action.CUSTOMER_LIST, [c for _, c in rows], "review_flags",
                    fields=("code",), extra={"view": "review_flags"})
        purpose = decision.purpose.value if decision.purpose else ""
        return [{"id": str(flag.id), "reason": flag.reason, "score": flag.score, "created_at": flag.created_at,
                 "customer_id": str(customer.id), "code": customer.code,
                 "other": self._flag_view(session, principal, purpose,
                                          Match("phone" if flag.reason == "same_phone" else "name",
                                                flag.other_customer_id, self._code(session, flag.other_customer_id),
                                                flag.score or 100)),
                 "outcome": flag.outcome, "note": flag.note, "resolved_at": flag.resolved_at,
                 "resolved_by": self.names.username(session, flag.resolved_by)} for flag, customer in rows]

    def resolve_flag(self, session: Session, principal: Principal, stated: str | None, auditor: Auditor,
                     flag_id: uuid.UUID, outcome: str, note: str) -> dict[str, object]:
        """The manager's verdict on a flag: `distinct` (two customers) or `duplicate` (then the
        records are merged or ended by their own steps). Decided as an owner assignment is."""
        decision = self._decide(session, principal, stated, Action.CUSTOMER_ASSIGN, auditor)
        flag = session.get(CustomerReviewFlag, flag_id)
        if flag is None:
            raise NotFound("No such review flag.")
        customer = self._in_scope(session, auditor, principal, decision, flag.customer_id)
        if outcome not in ("distinct", "duplicate"):
            raise InvalidInput("Say what the review found.", errors=[FieldError("outcome", "distinct or duplicate")])
        if flag.resolved_at is not None:
            raise Conflict("This flag has already been resolved.")
        flag.outcome, flag.note = outcome, note.strip()
        flag.resolved_at, flag.resolved_by = utcnow(), principal.id
        session.flush()
        self._grant(session, auditor, decision, Action.CUSTOMER_ASSIGN, [customer], str(flag.id), fields=(),
                    extra={"review_flag": outcome})
        return {"id": str(flag.id), "outcome": outcome, "customer_id": str(customer.id), "code": customer.code}

    @staticmethod
    def _code(session: Session, customer_id: uuid.UUID) -> str:
        return session.scalar(select(Customer.code).where(Customer.id == customer_id)) or ""

