"""The governance gate: the one place that decides access to customer data and to the access
log, and writes the event for every decision — allowed or denied — before anything is shown.

So far it serves the access log itself (purpose `audit`); the customer-data decision (scope,
fields, masking, the `Grant` that decryption requires) builds on `archive.policy` next.
Order of checks (API.md): authentication (done before) → purpose missing or unknown (400,
naming the purposes the caller may use) → purpose the role may not use or that does not fit
the endpoint (403). Every refusal from the purpose step on is an audit event.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.customers.models import SEALED_FIELDS, Customer
from archive.customers.repository import CustomerRepository
from archive.errors import ArchiveError, BadRequest, Forbidden, NotFound
from archive.identity.models import Department, User
from archive.identity.principal import Principal
from archive.policy import PolicyEngine, Relation, evaluate_scope
from archive.policy.decision import PurposeDecision
from archive.policy.scope import ScopeVerdict
from archive.vocabulary import Action, Purpose
from audit.events import AuditAction, Decision
from crypto.envelope import FieldCipher, FieldContext


def _purpose(engine: PolicyEngine, principal: Principal, stated: str | None) -> Purpose:
    usable = ", ".join(p.value for p in engine.usable_purposes(principal.roles)) or "none"
    if not stated:
        raise BadRequest(f"State why you read this: send the X-Purpose header. Purposes you may use: {usable}.")
    try:
        return Purpose(stated)
    except ValueError:
        raise BadRequest(f"Unknown purpose {stated!r}. Purposes you may use: {usable}.") from None


def authorize_log_access(
    session: Session, engine: PolicyEngine, principal: Principal, stated: str | None, auditor: Auditor,
    action: AuditAction,
) -> None:
    """Only a role that may state purpose `audit` reads the access log, and only under it.
    A refusal is recorded (and committed by the caller) before it is raised."""
    try:
        purpose = _purpose(engine, principal, stated)
        if purpose is not Purpose.AUDIT:
            raise Forbidden(f"The access log is read under purpose 'audit', not {purpose.value!r}.")
        if purpose not in engine.usable_purposes(principal.roles):
            raise Forbidden("Your role may not use purpose 'audit': the access log is for compliance officers.")
    except (BadRequest, Forbidden) as refusal:
        auditor.record(session, action, Decision.DENIED, resource_type="audit_log", purpose=stated or "",
                       reason=refusal.detail, policy_version=engine.version)
        session.commit()
        raise
    auditor.record(session, action, Decision.ALLOWED, resource_type="audit_log", purpose=purpose.value,
                   reason="compliance review", policy_version=engine.version)


# --- customer data ------------------------------------------------------------------------------
LOAN_POINTER = "request one at POST /api/v1/loans"


@dataclass(frozen=True, slots=True)
class Grant:
    """What the gate admitted for one read, after its event was committed. Only this module
    makes one; decryption of customer fields happens only against a grant."""

    decision: PurposeDecision
    customer_ids: tuple[uuid.UUID, ...]
    _token: object = field(repr=False, compare=False)


_MINT = object()


class CustomerGate:
    """Decides, audits, then opens exactly the fields the decision admitted."""

    def __init__(self, policy: PolicyEngine, cipher: FieldCipher) -> None:
        self.policy = policy
        self.cipher = cipher

    def _refuse(self, session: Session, auditor: Auditor, action: Action, error: ArchiveError, *,
                purpose: str, rule: str = "", customer: uuid.UUID | None = None) -> ArchiveError:
        auditor.record(session, action.value, Decision.DENIED, resource_type="customer",
                       resource_id=str(customer or ""), customer_ids=(customer,) if customer else (),
                       purpose=purpose, reason=error.detail, policy_rule=rule, policy_version=self.policy.version)
        session.commit()
        return error

    def _decide(self, session: Session, principal: Principal, stated: str | None, action: Action,
                auditor: Auditor) -> PurposeDecision:
        try:
            purpose = _purpose(self.policy, principal, stated)
        except BadRequest as error:
            raise self._refuse(session, auditor, action, error, purpose=stated or "") from None
        decision = self.policy.decide(frozenset(principal.roles), action, purpose)
        if not decision.allowed:
            raise self._refuse(session, auditor, action, Forbidden(decision.reason), purpose=purpose.value,
                               rule=decision.rule_text)
        return decision

    def _grant(self, session: Session, auditor: Auditor, decision: PurposeDecision, action: Action,
               customers: list[Customer], resource_id: str) -> Grant:
        ids = tuple(c.id for c in customers)
        auditor.record(session, action.value, Decision.ALLOWED, resource_type="customer", resource_id=resource_id,
                       customer_ids=ids, purpose=decision.purpose.value if decision.purpose else "",
                       categories=decision.categories, fields=decision.visible_fields(),
                       reason=decision.reason, policy_rule=decision.rule_text,
                       policy_version=decision.policy_version)
        session.commit()  # the event is durable before any plaintext leaves
        return Grant(decision, ids, _MINT)

    def read(self, session: Session, principal: Principal, stated: str | None, customer_id: uuid.UUID,
             auditor: Auditor) -> dict[str, object]:
        action = Action.CUSTOMER_READ
        decision = self._decide(session, principal, stated, action, auditor)
        purpose = decision.purpose.value if decision.purpose else ""
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise self._refuse(session, auditor, action, NotFound("No such customer."), purpose=purpose)
        relation = Relation(owner=customer.owner_id == principal.id,
                            same_department=customer.department_id == principal.department_id)
        scope = evaluate_scope(decision, relation)
        if scope.verdict is ScopeVerdict.NOT_FOUND:
            raise self._refuse(session, auditor, action, NotFound("No such customer."), purpose=purpose,
                               customer=customer.id)
        if scope.verdict is ScopeVerdict.FORBIDDEN:
            detail = f"Customer {customer.code} is outside your scope; " + (
                f"no active loan for it: {LOAN_POINTER}." if scope.loan_pointer else scope.reason)
            raise self._refuse(session, auditor, action, Forbidden(detail), purpose=purpose, customer=customer.id)
        grant = self._grant(session, auditor, decision, action, [customer], str(customer.id))
        return self.render(grant, session, customer)

    def list(self, session: Session, principal: Principal, stated: str | None, auditor: Auditor, *,
             limit: int, after: uuid.UUID | None) -> list[dict[str, object]]:
        action = Action.CUSTOMER_LIST
        decision = self._decide(session, principal, stated, action, auditor)
        customers = list(CustomerRepository(session).list_in_scope(
            decision.scope, user_id=principal.id, department_id=principal.department_id, limit=limit, after=after))
        grant = self._grant(session, auditor, decision, action, customers, "")
        return [self.render(grant, session, c) for c in customers]

    def render(self, grant: Grant, session: Session, customer: Customer) -> dict[str, object]:
        if grant._token is not _MINT or customer.id not in grant.customer_ids:
            raise Forbidden("No grant for this customer.")
        plan = grant.decision.fields or {}
        values: dict[str, str | None] = {}
        for name, field_plan in plan.items():
            if name in SEALED_FIELDS:
                if field_plan.needs_plaintext(customer.kind):
                    sealed = getattr(customer, f"{name}_ct")
                    ctx = FieldContext("customers", name, customer.id, customer.id)
                    values[name] = None if sealed is None else self.cipher.decrypt(ctx, sealed).decode()
            elif hasattr(customer, name):
                values[name] = getattr(customer, name)
        if customer.public_name and customer.kind in ("enterprise", "institution"):
            values["name"] = customer.public_name
        department = session.get(Department, customer.department_id)
        owner = session.get(User, customer.owner_id) if customer.owner_id else None
        values["department"] = department.code if department else None
        values["owner"] = owner.username if owner else None
        shown = grant.decision.render(values, customer.kind)
        return {"id": str(customer.id), "code": customer.code, "kind": customer.kind, "status": customer.status,
                "grade": customer.grade, **{k: v for k, v in shown.items() if k not in ("code", "kind", "status")}}
