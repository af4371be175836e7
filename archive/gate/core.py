"""The gate's common steps: the purpose (steps 2 and 3 of the order of checks), scope (step
4), the allowed event committed before a `Grant` is minted, and rendering — the one place a
sealed customer field is opened, and only against a grant. See archive/gate/__init__.py."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.breakglass.models import active_break_glass
from archive.customers.models import (
    SEALED_FIELDS,
    Customer,
)
from archive.errors import (
    ArchiveError,
    BadRequest,
    Forbidden,
    NotFound,
    StaleVersion,
)
from archive.identity.names import Names
from archive.identity.principal import Principal
from archive.policy import PolicyEngine, Relation, evaluate_scope
from archive.policy.decision import PurposeDecision
from archive.policy.scope import ScopeVerdict
from archive.vocabulary import Action, Purpose, Via
from audit.events import AuditAction, Decision
from audit.lookup import AuditLookup
from crypto.blind_index import BlindIndex
from crypto.envelope import FieldCipher, FieldContext
from crypto.grants import Grant as KeyGrant
from crypto.grants import GrantAuthority, GrantKind


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


def refuse(session: Session, auditor: Auditor, action: AuditAction | Action | str, error: ArchiveError,
           **details: object) -> ArchiveError:
    """Record a refusal and commit it, so the event outlives the refused request — and only it:
    whatever the request wrote before it was refused (an import's first parts) is rolled back
    first. The caller raises what it returns."""
    session.rollback()
    auditor.record(session, str(action), Decision.DENIED, reason=error.detail, **details)
    session.commit()
    return error


# --- customer data ------------------------------------------------------------------------------
LOAN_POINTER = "request one at POST /api/v1/loans"
BREAK_GLASS_POINTER = "POST /api/v1/break-glass"


@dataclass(frozen=True, slots=True)
class Grant:
    """What the gate admitted for one read, after its event was committed. Only this module
    makes one; decryption of customer fields happens only against a grant."""

    decision: PurposeDecision
    customer_ids: tuple[uuid.UUID, ...]
    _token: object = field(repr=False, compare=False)
    key: KeyGrant | None = field(default=None, repr=False, compare=False)  # what the ciphers check


_MINT = object()


def etag(customer: Customer) -> str:
    return f'"{customer.version}"'


class GateCore:
    """Decides, audits, then opens exactly the fields the decision admitted."""


    def __init__(self, policy: PolicyEngine, cipher: FieldCipher, index: BlindIndex,
                 lookup: AuditLookup | None = None) -> None:
        self.policy = policy
        self.cipher = cipher
        self.index = index
        self.lookup = lookup
        self.names = Names()
        # The process's grant authority: the key ring opens only what it mints (crypto/grants.py).
        self._authority = GrantAuthority()
        cipher.keys.trust(self._authority)

    def _refuse(self, session: Session, auditor: Auditor, action: Action, error: ArchiveError, *,
                purpose: str, rule: str = "", customer: uuid.UUID | None = None) -> ArchiveError:
        auditor.record(session, action.value, Decision.DENIED, resource_type="customer",
                       resource_id=str(customer or ""), customer_ids=(customer,) if customer else (),
                       purpose=purpose, reason=error.detail, policy_rule=rule, policy_version=self.policy.version)
        session.commit()
        return error

    def _decide(self, session: Session, principal: Principal, stated: str | None, action: Action,
                auditor: Auditor, customer_id: uuid.UUID | None = None) -> PurposeDecision:
        """The purpose steps of the order of checks. For one customer, an open break-glass of the
        caller's replaces the standard decision when the policy admits the act via break-glass."""
        try:
            purpose = _purpose(self.policy, principal, stated)
        except BadRequest as error:
            raise self._refuse(session, auditor, action, error, purpose=stated or "") from None
        roles = frozenset(principal.roles)
        decision = self.policy.decide(roles, action, purpose)
        if decision.allowed:
            return decision
        emergency = self.policy.decide(roles, action, purpose, break_glass=True)
        if (emergency.allowed and customer_id is not None and not principal.is_customer
                and active_break_glass(session, principal.id, customer_id) is not None):
            return emergency
        reason = decision.reason
        if emergency.allowed:
            reason += f"; with a written justification, open break-glass at {BREAK_GLASS_POINTER}"
        raise self._refuse(session, auditor, action, Forbidden(reason), purpose=purpose.value,
                           rule=decision.rule_text, customer=customer_id)

    def _grant(self, session: Session, auditor: Auditor, decision: PurposeDecision, action: Action,
               customers: list[Customer], resource_id: str, **details: object) -> Grant:
        ids = tuple(c.id for c in customers)
        flagged = decision.via is Via.BREAK_GLASS
        auditor.record(session, action.value, Decision.ALLOWED, resource_type="customer", resource_id=resource_id,
                       customer_ids=ids, purpose=decision.purpose.value if decision.purpose else "",
                       categories=decision.categories, reason=decision.reason, policy_rule=decision.rule_text,
                       policy_version=decision.policy_version, break_glass=flagged,
                       **{"fields": decision.visible_fields(), **details})
        session.commit()  # the event is durable before any plaintext leaves
        sealed = [f"customers.{name}" for name in decision.fields or {} if name in SEALED_FIELDS]
        key = self._authority.mint(GrantKind.READ, customer_ids=ids, fields=sealed, reason=action.value)
        return Grant(decision, ids, _MINT, key)

    @staticmethod
    def _relation(principal: Principal, decision: PurposeDecision, customer: Customer) -> Relation:
        return Relation(owner=customer.owner_id == principal.id,
                        same_department=customer.department_id == principal.department_id,
                        is_self=principal.is_customer and principal.customer_id == customer.id,
                        break_glass=decision.via is Via.BREAK_GLASS)

    def _in_scope(self, session: Session, auditor: Auditor, principal: Principal, decision: PurposeDecision,
                  customer_id: uuid.UUID) -> Customer:
        """Step 4 of the order of checks: the customer, or 404 / 403 (with the loan pointer)."""
        action = decision.action
        purpose = decision.purpose.value if decision.purpose else ""
        customer = session.get(Customer, customer_id)
        if customer is None:
            raise self._refuse(session, auditor, action, NotFound("No such customer."), purpose=purpose)
        scope = evaluate_scope(decision, self._relation(principal, decision, customer))
        if scope.verdict is ScopeVerdict.NOT_FOUND:
            raise self._refuse(session, auditor, action, NotFound("No such customer."), purpose=purpose,
                               customer=customer.id)
        if scope.verdict is ScopeVerdict.FORBIDDEN:
            detail = f"Customer {customer.code} is outside your scope; " + (
                f"no active loan for it: {LOAN_POINTER}." if scope.loan_pointer else scope.reason)
            raise self._refuse(session, auditor, action, Forbidden(detail), purpose=purpose, customer=customer.id)
        return customer

    @staticmethod
    def _check_version(customer: Customer, if_match: str | None) -> None:
        """If-Match against the record's version (a weak `W/` form compares the same); a stale
        one is 412, so a change never overwrites one its author has not seen."""
        if if_match and if_match.strip().removeprefix("W/") not in (etag(customer), "*"):
            raise StaleVersion(f"Customer {customer.code} changed since you read it (now {etag(customer)}); "
                               "read it again and reapply your change.")

    def _may_see(self, session: Session, principal: Principal, purpose: str, customer_id: uuid.UUID) -> bool:
        read = self.policy.decide(frozenset(principal.roles), Action.CUSTOMER_READ, Purpose(purpose))
        other = session.get(Customer, customer_id)
        return bool(read.allowed and other is not None
                    and evaluate_scope(read, self._relation(principal, read, other)).in_scope)

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
                    values[name] = None if sealed is None else self.cipher.decrypt(grant.key, ctx, sealed).decode()
            elif hasattr(customer, name):
                values[name] = getattr(customer, name)
        if customer.public_name and customer.kind in ("enterprise", "institution"):
            values["name"] = customer.public_name
        values["department"] = self.names.department_code(session, customer.department_id)
        values["owner"] = self.names.username(session, customer.owner_id)
        shown = grant.decision.render(values, customer.kind)
        return {"id": str(customer.id), "code": customer.code, "kind": customer.kind, "status": customer.status,
                "grade": customer.grade, "version": customer.version,
                **{k: v for k, v in shown.items() if k not in ("code", "kind", "status")}}
