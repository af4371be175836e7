"""The governance gate: the one place that decides access to customer data and to the access
log, and writes the event for every decision — allowed or denied — before anything is shown.

Order of checks (API.md): authentication (done before) → purpose missing or unknown (400,
naming the purposes the caller may use) → purpose the role may not use or that does not fit
the endpoint (403; a compliance officer is pointed to break-glass) → the customer outside the
caller's scope (403 with the loan pointer for staff who could borrow, else 404) → per field:
what the purpose does not admit is masked or omitted, never decrypted. Every refusal from the
purpose step on is an audit event, committed before the error is raised; an allowed read's
event is committed before any plaintext leaves, and only then is a `Grant` minted, without
which `render` decrypts nothing.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from contextlib import nullcontext
from dataclasses import dataclass, field

import structlog
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.blobs import BlobMissing, BlobStore, ChunkReader
from archive.breakglass.models import active_break_glass
from archive.customers.intake import Candidate, DuplicateCheck, Match
from archive.customers.models import (
    SEALED_FIELDS,
    STATUSES,
    TRANSITIONS,
    Customer,
    CustomerCorrection,
    CustomerReviewFlag,
    CustomerStatusChange,
)
from archive.customers.repository import CustomerFilter, CustomerRepository
from archive.customers.service import CustomerRegistry, NewCustomer, check_correction, index_kind
from archive.db import new_id, utcnow
from archive.documents.errors import ContentDestroyed, ContentUnavailable
from archive.documents.intake import BlobIntake, UploadForm, content_context
from archive.documents.models import Document
from archive.documents.repository import DocumentRepository
from archive.documents.service import (
    DocumentContent,
    DocumentRegistry,
    audit_details,
    check_early,
    check_fields,
    describe,
)
from archive.errors import (
    ArchiveError,
    BadRequest,
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionRequired,
    StaleVersion,
)
from archive.identity.models import Department, User
from archive.identity.names import Names
from archive.identity.principal import Principal
from archive.identity.repository import IdentityRepository
from archive.policy import PolicyEngine, Relation, evaluate_scope
from archive.policy.decision import PurposeDecision, Visibility
from archive.policy.scope import ScopeVerdict
from archive.vocabulary import Action, DocumentKind, Purpose, Scope, Via
from audit.events import AuditAction, Decision
from audit.lookup import AuditLookup
from crypto.blind_index import BlindIndex
from crypto.envelope import FieldCipher, FieldContext
from crypto.errors import CryptoError, KeyDestroyed
from crypto.keyring import KeyRing
from crypto.streaming import BlobCipher, BlobReader


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
    """Record a refusal and commit it, so the event outlives the rollback of the refused request;
    the caller raises what it returns."""
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


_MINT = object()


class CustomerGate:
    """Decides, audits, then opens exactly the fields the decision admitted."""

    def __init__(self, policy: PolicyEngine, cipher: FieldCipher, index: BlindIndex,
                 lookup: AuditLookup | None = None) -> None:
        self.policy = policy
        self.cipher = cipher
        self.index = index
        self.lookup = lookup
        self.names = Names()

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
        return Grant(decision, ids, _MINT)

    def read(self, session: Session, principal: Principal, stated: str | None, customer_id: uuid.UUID,
             auditor: Auditor) -> dict[str, object]:
        action = Action.CUSTOMER_READ
        decision = self._decide(session, principal, stated, action, auditor, customer_id)
        customer = self._in_scope(session, auditor, principal, decision, customer_id)
        grant = self._grant(session, auditor, decision, action, [customer], str(customer.id))
        return self.render(grant, session, customer)

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

    @staticmethod
    def _check_version(customer: Customer, if_match: str | None) -> None:
        if if_match and if_match.strip() not in (etag(customer), "*", etag(customer).removeprefix("W/")):
            raise StaleVersion(f"Customer {customer.code} changed since you read it (now {etag(customer)}).")

    def authorize_import(self, session: Session, principal: Principal, stated: str | None,
                         auditor: Auditor) -> PurposeDecision:
        """An import is `customer.create` for every row: the caller's purpose must allow it (the
        importer then keeps each row inside the decision's scope)."""
        return self._decide(session, principal, stated, Action.CUSTOMER_CREATE, auditor)

    # -- the contract ledger (clear data about customers; decided and logged the same way) --------

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

    def _may_see(self, session: Session, principal: Principal, purpose: str, customer_id: uuid.UUID) -> bool:
        read = self.policy.decide(frozenset(principal.roles), Action.CUSTOMER_READ, Purpose(purpose))
        other = session.get(Customer, customer_id)
        return bool(read.allowed and other is not None
                    and evaluate_scope(read, self._relation(principal, read, other)).in_scope)

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
        if if_match.strip() not in (etag(customer), "*") and if_match.strip() != etag(customer).removeprefix("W/"):
            raise StaleVersion(f"Customer {customer.code} changed since you read it (now {etag(customer)}); "
                               "read it again and reapply your correction.")
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
        values["department"] = self.names.department_code(session, customer.department_id)
        values["owner"] = self.names.username(session, customer.owner_id)
        shown = grant.decision.render(values, customer.kind)
        return {"id": str(customer.id), "code": customer.code, "kind": customer.kind, "status": customer.status,
                "grade": customer.grade, "version": customer.version,
                **{k: v for k, v in shown.items() if k not in ("code", "kind", "status")}}


def etag(customer: Customer) -> str:
    return f'"{customer.version}"'


# --- documents ----------------------------------------------------------------------------------
log = structlog.get_logger("archive.documents")


@dataclass(frozen=True, slots=True)
class UploadPermit:
    """The gate's yes to filing a document on one customer, given before the body is read."""

    decision: PurposeDecision
    customer_id: uuid.UUID
    uploaded_by: uuid.UUID | None
    _token: object = field(repr=False, compare=False)


class DocumentGate:
    """Documents under the customers' order of checks (purpose, then the customer's scope), plus
    API.md step 5 for content: the purpose must admit the document's kind. Blobs are decrypted
    only here, against a grant, after the allowed event is committed."""

    def __init__(self, customers: CustomerGate, cipher: BlobCipher, store: BlobStore,
                 sessions: Callable[[], Session], *, max_bytes: int) -> None:
        self.customers, self.cipher, self.store = customers, cipher, store
        self.sessions, self.max_bytes = sessions, max_bytes

    def authorize_upload(self, session: Session, principal: Principal, stated: str | None, customer_id: uuid.UUID,
                         auditor: Auditor) -> UploadPermit:
        decision = self.customers._decide(session, principal, stated, Action.DOCUMENT_UPLOAD, auditor, customer_id)
        customer = self.customers._in_scope(session, auditor, principal, decision, customer_id)
        session.rollback()  # nothing written: hold no (SQLite) write lock while the body streams in
        return UploadPermit(decision, customer.id, None if principal.is_customer else principal.id, _MINT)

    def upload(self, session: Session, permit: UploadPermit, form: UploadForm, auditor: Auditor) -> dict[str, object]:
        """Stream the file into the blob store, then file its row and event in one commit; a
        failure at any step leaves neither blob nor row."""
        if permit._token is not _MINT:
            raise Forbidden("No permit for this upload.")
        document_id = new_id()
        intake = BlobIntake(self.cipher, self.store, max_bytes=self.max_bytes)
        stored = intake.take(permit.customer_id, document_id, form, check_early)
        try:
            new = check_fields(form.fields)
            document = DocumentRegistry(DocumentRepository(session)).file(
                document_id=document_id, customer_id=permit.customer_id, new=new, stored=stored,
                uploaded_by=permit.uploaded_by)
            self._allow(session, auditor, permit.decision, Action.DOCUMENT_UPLOAD, permit.customer_id, document,
                        size=str(document.size))
        except BaseException:
            session.rollback()
            self.store.delete(stored.key)
            raise
        return describe(document)

    def list(self, session: Session, principal: Principal, stated: str | None, customer_id: uuid.UUID,
             auditor: Auditor, *, limit: int, after: uuid.UUID | None) -> list[dict[str, object]]:
        """The customer's current documents (metadata), each with its version chain."""
        decision = self.customers._decide(session, principal, stated, Action.DOCUMENT_LIST, auditor, customer_id)
        customer = self.customers._in_scope(session, auditor, principal, decision, customer_id)
        repo = DocumentRepository(session)
        current = repo.current(customer.id, limit=limit, after=after)
        versions = repo.versions(d.chain_id for d in current)
        self._allow(session, auditor, decision, Action.DOCUMENT_LIST, customer.id, None, documents=str(len(current)))
        return [describe(d, versions=versions, content_admitted=d.kind in decision.document_kinds) for d in current]

    def read(self, session: Session, principal: Principal, stated: str | None, document_id: uuid.UUID,
             auditor: Auditor) -> dict[str, object]:
        decision, document = self._document(session, principal, stated, Action.DOCUMENT_READ, auditor, document_id)
        versions = DocumentRepository(session).versions([document.chain_id])
        self._allow(session, auditor, decision, Action.DOCUMENT_READ, document.customer_id, document)
        return describe(document, versions=versions, content_admitted=document.kind in decision.document_kinds)

    def open_content(self, session: Session, principal: Principal, stated: str | None, document_id: uuid.UUID,
                     auditor: Auditor) -> DocumentContent:
        action = Action.DOCUMENT_CONTENT_READ
        decision, document = self._document(session, principal, stated, action, auditor, document_id)
        if DocumentKind(document.kind) not in decision.document_kinds:
            purpose = decision.purpose.value if decision.purpose else ""
            raise self._deny(session, auditor, action, Forbidden(
                f"The purpose {purpose} does not admit the content of a {document.kind} ({document.category} "
                f"document); its metadata is at GET /api/v1/documents/{document.id}."), decision, document)
        try:
            chunks = self.store.open(document.blob_key)
        except BlobMissing:
            raise self._damaged(document, auditor, "BlobMissing", session=session) from None
        grant = self._allow(session, auditor, decision, action, document.customer_id, document)
        source = ChunkReader(chunks)
        try:
            reader = self._decrypt(grant, document, source)
        except CryptoError as error:
            source.close()
            raise self._damaged(document, auditor, type(error).__name__, destroyed=isinstance(error, KeyDestroyed)
                                ) from None
        return DocumentContent(describe(document), document.filename, document.content_type, document.size,
                               self._plaintext(document, reader, source, auditor))

    def _decrypt(self, grant: Grant, document: Document, source: ChunkReader) -> BlobReader:
        if grant._token is not _MINT or document.customer_id not in grant.customer_ids:
            raise Forbidden("No grant for this document.")
        return self.cipher.decrypt(content_context(document.id, document.customer_id), source,
                                   plaintext_size=document.size, sha256=bytes.fromhex(document.sha256))

    def _plaintext(self, document: Document, reader: BlobReader, source: ChunkReader,
                   auditor: Auditor) -> Iterator[bytes]:
        """Each segment leaves one step behind the next: the last only once the SHA-256 is
        proven, so a damaged blob aborts the transfer instead of ending it cleanly."""
        held = None
        try:
            for segment in reader:
                if held is not None:
                    yield held
                held = segment
        except CryptoError as error:
            raise self._damaged(document, auditor, type(error).__name__) from None
        finally:
            source.close()
        if held is not None:
            yield held

    def _document(self, session: Session, principal: Principal, stated: str | None, action: Action,
                  auditor: Auditor, document_id: uuid.UUID) -> tuple[PurposeDecision, Document]:
        document = session.get(Document, document_id)
        customer_id = document.customer_id if document is not None else None
        decision = self.customers._decide(session, principal, stated, action, auditor, customer_id)
        if document is None:
            raise self._deny(session, auditor, action, NotFound("No such document."), decision, None, document_id)
        try:
            self.customers._in_scope(session, auditor, principal, decision, document.customer_id)
        except NotFound:  # as for an id that does not exist: nothing tells the two apart
            raise NotFound("No such document.") from None
        return decision, document

    def _allow(self, session: Session, auditor: Auditor, decision: PurposeDecision, action: Action,
               customer_id: uuid.UUID, document: Document | None, **extra: str) -> Grant:
        auditor.record(session, action.value, Decision.ALLOWED, **audit_details(decision, document, customer_id),
                       reason=decision.reason, break_glass=decision.via is Via.BREAK_GLASS, extra=extra)
        session.commit()  # the event is durable before any content leaves
        return Grant(decision, (customer_id,), _MINT)

    def _deny(self, session: Session, auditor: Auditor, action: Action, error: ArchiveError,
              decision: PurposeDecision, document: Document | None, document_id: uuid.UUID | None = None
              ) -> ArchiveError:
        details = audit_details(decision, document, document.customer_id if document else None)
        if document is None:
            details.update(resource_type="document", resource_id=str(document_id or ""))
        return refuse(session, auditor, action, error, **details)

    def _damaged(self, document: Document, auditor: Auditor, what: str, *, session: Session | None = None,
                 destroyed: bool = False) -> ArchiveError:
        """Log and audit a blob that is missing, damaged or no longer readable — in the request's
        session before the grant, in one of its own once the grant is committed; the caller
        raises what it returns."""
        log.error("document.content_damaged", document_id=str(document.id), error=what)
        with nullcontext(session) if session is not None else self.sessions() as events:
            auditor.record(events, Action.DOCUMENT_CONTENT_READ.value, Decision.DENIED, resource_type="document",
                           resource_id=str(document.id), customer_ids=(document.customer_id,),
                           reason=f"the stored content failed its check ({what}); nothing more was sent",
                           extra={"integrity": "destroyed" if destroyed else "failed", "error": what})
            events.commit()
        if destroyed:
            return ContentDestroyed("The customer's data key was destroyed (crypto-shredding); this content is "
                                    "permanently unreadable.")
        return ContentUnavailable("This document's stored content is missing or damaged; it was not sent. The "
                                  "incident is logged — an operator can run `archive blobs check`.")

