"""The gate: steps 2 to 5 of API.md "Order of checks" on records the services load, the audit
event of every decision, and the grants that open what a decision admits. See the package
docstring (archive/gate/__init__.py) for the API and how a service calls it."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from typing import TypeVar

from archive.auditing import Auditor
from archive.db import UnitOfWork
from archive.errors import ArchiveError, BadRequest, Forbidden, NotFound
from archive.gate.admission import Admission
from archive.gate.caller import BreakGlassLookup, Caller, CustomerRecord
from archive.gate.refusal import BREAK_GLASS_POINTER, LOAN_POINTER, deny
from archive.gate.views import ShownCustomer, customer_view, open_customer_fields
from archive.identity.principal import Principal
from archive.policy import PolicyEngine, Relation, evaluate_scope
from archive.policy.decision import PurposeDecision, Visibility
from archive.policy.scope import ScopeVerdict
from archive.vocabulary import Action, Purpose, Via
from audit.events import ActorKind, AuditAction, Decision
from audit.lookup import AuditLookup
from crypto.envelope import FieldCipher, FieldContext
from crypto.grants import GrantAuthority, GrantKind
from crypto.keyring import KeyRing
from crypto.streaming import BlobCipher, BlobReader, Readable

R = TypeVar("R", bound=CustomerRecord)


class Gate:
    """The one access decision of a process. It holds the process's only `GrantAuthority`
    (the key ring trusts it, and nothing else mints) and the ciphers that open plaintext."""

    def __init__(self, policy: PolicyEngine, ring: KeyRing, *, lookup: AuditLookup | None = None) -> None:
        self.policy = policy
        self.lookup = lookup
        self._authority = GrantAuthority()
        ring.trust(self._authority)
        self.field_cipher = FieldCipher(ring)  # seals freely; opens only against a grant
        self.blob_cipher = BlobCipher(ring)

    # -- steps 2 and 3: the purpose ------------------------------------------------------------

    def decide(self, uow: UnitOfWork, caller: Caller, action: Action, *, customer_id: uuid.UUID | None = None,
               break_glass: BreakGlassLookup | None = None, resource_type: str = "customer",
               resource_id: str | None = None) -> PurposeDecision:
        """The stated purpose is known (400 naming the usable ones) and lets the caller's role
        do `action` (403). For one customer, an open break-glass of the caller's (asked of
        `break_glass` only when the standard decision refuses) replaces the standard decision
        where the policy admits the act via break-glass."""
        principal = caller.principal
        target = {"resource_type": resource_type,
                  "resource_id": resource_id if resource_id is not None else str(customer_id or ""),
                  "customer_ids": (customer_id,) if customer_id else ()}
        purpose = self._purpose(caller, action, target)
        roles = frozenset(principal.roles)
        decision = self.policy.decide(roles, action, purpose)
        if decision.allowed:
            return decision
        emergency = self.policy.decide(roles, action, purpose, break_glass=True)
        if (emergency.allowed and customer_id is not None and break_glass is not None
                and not principal.is_customer and break_glass(principal.id, customer_id)):
            return emergency
        reason = decision.reason
        if emergency.allowed:
            reason += f"; with a written justification, open break-glass at {BREAK_GLASS_POINTER}"
        raise self._deny(caller, action, Forbidden(reason), decision, **target)

    def decide_self(self, uow: UnitOfWork, caller: Caller, action: Action = Action.CUSTOMER_READ) -> PurposeDecision:
        """A customer's own call (`/me`): the purpose is implied (data_subject_request); anyone
        but a customer login bound to a record gets 404."""
        principal = caller.principal
        decision = self.policy.decide(frozenset(principal.roles), action, None)
        if not principal.is_customer or principal.customer_id is None or not decision.allowed:
            raise self._deny(caller, action, NotFound("No customer record belongs to this login."), decision)
        return decision

    def _purpose(self, caller: Caller, action: Action | AuditAction, target: Mapping[str, object]) -> Purpose:
        return stated_purpose(self.policy, caller, action, target)

    # -- step 4: the record's scope --------------------------------------------------------------

    def check_scope(self, uow: UnitOfWork, caller: Caller, decision: PurposeDecision,
                    customer: R | None, *, missing: str = "No such customer.",
                    resource_type: str = "customer", resource_id: str | None = None) -> R:
        """The customer the service loaded (None: there is none), if it is within the
        decision's scope; else 404 (`missing`; also for a caller who could never read it) or
        403 with the loan pointer for staff who could borrow it."""
        if customer is None:
            raise self._deny(caller, decision.action, NotFound(missing), decision, resource_type=resource_type,
                             resource_id=resource_id or "")
        target = {"resource_type": resource_type,
                  "resource_id": resource_id if resource_id is not None else str(customer.id),
                  "customer_ids": (customer.id,)}
        scope = evaluate_scope(decision, self._relation(caller.principal, decision, customer))
        if scope.verdict is ScopeVerdict.NOT_FOUND:
            raise self._deny(caller, decision.action, NotFound(missing), decision, **target)
        if scope.verdict is ScopeVerdict.FORBIDDEN:
            detail = f"Customer {customer.code} is outside your scope; " + (
                f"no active loan for it: {LOAN_POINTER}." if scope.loan_pointer else scope.reason)
            raise self._deny(caller, decision.action, Forbidden(detail), decision, **target)
        return customer

    def in_scope(self, caller: Caller, decision: PurposeDecision, customer: CustomerRecord) -> bool:
        """Step 4 as a question, for filtering search matches and review lists (no event)."""
        return evaluate_scope(decision, self._relation(caller.principal, decision, customer)).in_scope

    def could_read(self, caller: Caller, decision: PurposeDecision, customer: CustomerRecord) -> bool:
        """Whether the caller may read `customer` under the decision's purpose: whether a
        pointer to it (a duplicate's code) may be shown."""
        if decision.purpose is None:
            return False
        read = self.policy.decide(frozenset(caller.principal.roles), Action.CUSTOMER_READ, decision.purpose)
        return read.allowed and self.in_scope(caller, read, customer)

    @staticmethod
    def _relation(principal: Principal, decision: PurposeDecision, customer: CustomerRecord) -> Relation:
        return Relation(owner=customer.owner_id == principal.id,
                        same_department=customer.department_id == principal.department_id,
                        is_self=principal.is_customer and principal.customer_id == customer.id,
                        break_glass=decision.via is Via.BREAK_GLASS)

    # -- step 5: what of the record ---------------------------------------------------------------

    @staticmethod
    def content_admitted(decision: PurposeDecision, kind: str) -> bool:
        return kind in decision.document_kinds

    def check_content(self, uow: UnitOfWork, caller: Caller, decision: PurposeDecision, *, kind: str,
                      category: str, document_id: uuid.UUID, customer_id: uuid.UUID) -> None:
        """A document's content is opened only if the purpose admits its kind (403 naming the
        metadata route otherwise)."""
        if self.content_admitted(decision, kind):
            return
        purpose = decision.purpose.value if decision.purpose else ""
        raise self._deny(caller, decision.action, Forbidden(
            f"The purpose {purpose} does not admit the content of a {kind} ({category} document); its metadata "
            f"is at GET /api/v1/documents/{document_id}."), decision, resource_type="document",
            resource_id=str(document_id), customer_ids=(customer_id,), categories=(category,))

    def check_fields(self, uow: UnitOfWork, caller: Caller, decision: PurposeDecision, customer: CustomerRecord,
                     fields: Iterable[str]) -> None:
        """A change touches only fields the purpose shows in clear (what one may not see, one
        may not correct): 403 naming the others."""
        plan = decision.fields or {}
        hidden = sorted(f for f in fields if f not in plan or plan[f].visibility_for(customer.kind)
                        is not Visibility.CLEAR)
        if hidden:
            purpose = decision.purpose.value if decision.purpose else ""
            raise self._deny(caller, decision.action, Forbidden(
                f"The purpose {purpose} does not let you see, so not correct: {', '.join(hidden)}."), decision,
                resource_type="customer", resource_id=str(customer.id), customer_ids=(customer.id,))

    # -- refusals ---------------------------------------------------------------------------------

    def refuse(self, caller: Caller, decision: PurposeDecision, error: ArchiveError, *,
               customer_id: uuid.UUID | None = None, resource_type: str = "customer",
               resource_id: str | None = None, **details: object) -> ArchiveError:
        """A refusal the service decides on its own rules once the gate admitted the act (a
        duplicate of a registered customer, an owner outside the caller's reach): the same one
        denied event, with the decision's purpose, rule and policy version. Raise what it returns."""
        return self._deny(caller, decision.action, error, decision, resource_type=resource_type,
                          resource_id=resource_id if resource_id is not None else str(customer_id or ""),
                          customer_ids=(customer_id,) if customer_id else (), **details)

    def _deny(self, caller: Caller, action: Action | AuditAction | str, error: ArchiveError,
              decision: PurposeDecision | None, **details: object) -> ArchiveError:
        purpose = decision.purpose.value if decision is not None and decision.purpose else (caller.purpose or "")
        details.setdefault("purpose", purpose)
        details.setdefault("policy_rule", decision.rule_text if decision is not None else "")
        details.setdefault("policy_version", decision.policy_version if decision is not None else self.policy.version)
        return deny(caller.auditor, action, error, **details)

    # -- allowed acts and their grants ------------------------------------------------------------

    def admit(self, uow: UnitOfWork, caller: Caller, decision: PurposeDecision, customer_ids: Iterable[uuid.UUID],
              *, resource_type: str = "customer", resource_id: str = "", opens: Iterable[str] | None = None,
              **details: object) -> Admission:
        """Write the act's allowed event in the unit of work and return its `Admission`; the
        read grant (for `customer_ids`; opening `opens`, by default every customer field the
        decision admits) is minted when the unit commits. `details` go to the event (`fields`
        defaults to the fields the decision shows; `extra`, `lookup_hmacs`, ...)."""
        ids = tuple(customer_ids)
        fields = frozenset(opens) if opens is not None else self._customer_fields(decision)
        details.setdefault("fields", decision.visible_fields())
        details.setdefault("categories", decision.categories)
        caller.auditor.record(uow.session, decision.action.value, Decision.ALLOWED, resource_type=resource_type,
                              resource_id=resource_id, customer_ids=ids,
                              purpose=decision.purpose.value if decision.purpose else "", reason=decision.reason,
                              policy_rule=decision.rule_text, policy_version=decision.policy_version,
                              break_glass=decision.via is Via.BREAK_GLASS, **details)
        return self._pending(uow, Admission(decision, GrantKind.READ, ids, fields), decision.action.value)

    def aggregate(self, uow: UnitOfWork, caller: Caller, decision: PurposeDecision, customer_ids: Iterable[uuid.UUID],
                  fields: Iterable[str], *, resource_type: str, resource_id: str = "",
                  extra: Mapping[str, str] | None = None, **details: object) -> Admission:
        """A report or grading run: the customer `fields` it declares (plain names, e.g.
        `annual_volume`) opened to compute on, never returned. Each must be one the decision
        admits (else 403, audited); the event names the run, the fields and how many customers."""
        ids = tuple(customer_ids)
        declared = tuple(dict.fromkeys(fields))
        plan = decision.fields or {}
        refused = [f for f in declared if f not in plan or not plan[f].encrypted
                   or plan[f].visibility_for() is not Visibility.CLEAR]
        if refused:
            raise self._deny(caller, decision.action, Forbidden(
                f"The purpose {decision.purpose} does not admit {', '.join(refused)} in clear; a run declares only "
                "what its purpose admits."), decision, resource_type=resource_type, resource_id=resource_id)
        caller.auditor.record(uow.session, decision.action.value, Decision.ALLOWED, resource_type=resource_type,
                              resource_id=resource_id, purpose=decision.purpose.value if decision.purpose else "",
                              categories=decision.categories, fields=declared, reason=decision.reason,
                              policy_rule=decision.rule_text, policy_version=decision.policy_version,
                              extra={"grant": GrantKind.AGGREGATE.value, "customers": str(len(ids)), **(extra or {})},
                              **details)
        opens = frozenset(f"customers.{f}" for f in declared)
        admission = Admission(decision, GrantKind.AGGREGATE, ids, opens)
        return self._pending(uow, admission, f"{decision.action} (aggregate)")

    def system(self, uow: UnitOfWork, auditor: Auditor, action: AuditAction, *, reason: str,
               resource_type: str = "data_keys", resource_id: str = "", extra: Mapping[str, str] | None = None,
               **details: object) -> Admission:
        """Key rotation and rewrap: no customer decision, every customer and field, only for
        the system actor (a CLI command or the worker); audited like any other grant."""
        if auditor.actor.kind is not ActorKind.SYSTEM:
            raise deny(auditor, action, Forbidden("Key rotation and rewrap run as the system (the `archive keys` "
                                                  "commands), not as a signed-in user."),
                       resource_type=resource_type, resource_id=resource_id, policy_version=self.policy.version)
        auditor.record(uow.session, action, Decision.ALLOWED, resource_type=resource_type, resource_id=resource_id,
                       reason=reason, policy_version=self.policy.version,
                       extra={"grant": GrantKind.SYSTEM.value, **(extra or {})}, **details)
        return self._pending(uow, Admission(None, GrantKind.SYSTEM, None, None), str(action))

    def _pending(self, uow: UnitOfWork, admission: Admission, reason: str) -> Admission:
        authority, kind, ids, fields = self._authority, admission.kind, admission.customer_ids, admission.fields
        uow.after_commit(admission._issue(lambda: authority.mint(kind, customer_ids=ids, fields=fields,
                                                                 reason=reason)))
        return admission

    @staticmethod
    def _customer_fields(decision: PurposeDecision) -> frozenset[str]:
        """`customers.<field>` for every sealed field the decision shows for some customer kind."""
        return frozenset(f"customers.{name}" for name, plan in (decision.fields or {}).items()
                         if plan.encrypted and (plan.visibility is not Visibility.OMITTED or plan.clear_for_kinds))

    # -- opening, after the commit ----------------------------------------------------------------

    def reveal(self, admission: Admission, customer: ShownCustomer, *,
               clear: Mapping[str, str | None]) -> dict[str, object]:
        """A customer as the admitted decision shows it: sealed fields opened against the
        admission's grant and masked or omitted per field; `clear` holds what the service
        looked up in clear (`department` code, `owner` username)."""
        if admission.decision is None:
            raise ValueError("only a read admission shows a customer")
        return customer_view(self.field_cipher, admission.grant, admission.decision, customer, clear)

    def open_fields(self, admission: Admission, customer: ShownCustomer,
                    fields: Sequence[str]) -> dict[str, str | None]:
        """The plaintext of `fields` of one customer (an aggregate run computes on them);
        `NotGranted` for a field or customer the grant does not admit."""
        return open_customer_fields(self.field_cipher, admission.grant, customer, fields)

    def open_content(self, admission: Admission, document_id: uuid.UUID, customer_id: uuid.UUID, source: Readable,
                     *, size: int, sha256: bytes) -> BlobReader:
        """A document's plaintext segments, checked to the last byte against `sha256`."""
        ctx = FieldContext("documents", "content", document_id, customer_id)
        return self.blob_cipher.decrypt(admission.grant, ctx, source, plaintext_size=size, sha256=sha256)

    def lookup_tokens(self, kind: str, value: str) -> tuple[str, ...]:
        """What an exact search's event keeps of the value searched: keyed hashes under every
        audit lookup key (so a compliance officer can find the searches for a value), never it."""
        return tuple(self.lookup.tokens(kind, value)) if self.lookup is not None else ()

    # -- the access log ---------------------------------------------------------------------------

    def authorize_log(self, uow: UnitOfWork, caller: Caller, action: AuditAction) -> None:
        """Only a role that may state purpose `audit` reads the access log, and only under it;
        the allowed event is written in the unit of work, a refusal through the refusal path."""
        authorize_log(uow, self.policy, caller, action)

    def __repr__(self) -> str:
        return f"Gate(policy={self.policy.version!r})"



def stated_purpose(policy: PolicyEngine, caller: Caller, action: Action | AuditAction,
                   target: Mapping[str, object]) -> Purpose:
    """Step 2: the purpose the caller stated, if it is one; else 400 naming those they may use."""
    stated = caller.purpose
    usable = ", ".join(p.value for p in policy.usable_purposes(caller.principal.roles)) or "none"
    if not stated:
        error = BadRequest(f"State why you read this: send the X-Purpose header. Purposes you may use: {usable}.")
    else:
        try:
            return Purpose(stated)
        except ValueError:
            error = BadRequest(f"Unknown purpose {stated!r}. Purposes you may use: {usable}.")
    raise deny(caller.auditor, action, error, purpose=stated or "", policy_version=policy.version, **target)


def authorize_log(uow: UnitOfWork, policy: PolicyEngine, caller: Caller, action: AuditAction) -> None:
    """`Gate.authorize_log`, for the policy given."""
    target = {"resource_type": "audit_log"}
    purpose = stated_purpose(policy, caller, action, target)
    if purpose is not Purpose.AUDIT:
        error = Forbidden(f"The access log is read under purpose 'audit', not {purpose.value!r}.")
    elif purpose not in policy.usable_purposes(caller.principal.roles):
        error = Forbidden("Your role may not use purpose 'audit': the access log is for compliance officers.")
    else:
        caller.auditor.record(uow.session, action, Decision.ALLOWED, resource_type="audit_log", purpose=purpose.value,
                              reason="compliance review", policy_version=policy.version)
        return
    raise deny(caller.auditor, action, error, purpose=caller.purpose or "", policy_version=policy.version, **target)
