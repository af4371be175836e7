"""Registering customers through the gate (DOMAIN.md "Intake"): the caller's scope, one record
per company (duplicates refused with a pointer only for those who may see it), doubts flagged."""

from __future__ import annotations

from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.customers.intake import Candidate, DuplicateCheck, Match
from archive.customers.models import (
    CustomerReviewFlag,
)
from archive.customers.service import CustomerRegistry, NewCustomer
from archive.db import new_id
from archive.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
)
from archive.gate.core import GateCore
from archive.identity.models import Department, User
from archive.identity.principal import Principal
from archive.identity.repository import IdentityRepository
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
        sensitive = {"name": new.name, **new.sensitive}
        findings = DuplicateCheck(session, self.index).one(Candidate(
            kind=new.kind, name=new.name, id_number=sensitive.get("id_number"),
            tax_number=sensitive.get("tax_number"), phone=sensitive.get("phone")))
        if findings.refusals:
            raise self._refuse(session, auditor, action, self._duplicate(session, principal, purpose,
                                                                         findings.refusals[0]),
                               purpose=purpose, customer=findings.refusals[0].customer_id)
        customer_id = new_id()
        if session.in_transaction():
            # Nothing is written yet; release the (SQLite) write lock so the customer's data key
            # can be committed in its own transaction before anything is sealed with it.
            session.rollback()
        ring.dek_for_encrypt(customer_id)
        customer = registry.register(customer_id=customer_id, code=new.code or f"C-{customer_id.hex[-10:].upper()}",
                                     kind=new.kind, department_id=department.id, owner_id=owner.id,
                                     status=new.status, profile=new.profile, sensitive=sensitive,
                                     created_by=principal.id)
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
