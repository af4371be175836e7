"""Customers' rules: the one-record-per-company intake (archive/customers/intake.py), lifecycle
steps, owner assignment, corrections, the review of possible duplicates, the bulk import; how a
customer is sealed and written is archive/customers/registry.py, every query the repository.

`CustomerService` is what the routers call: each method is one unit of work in which the gate
decides and audits (archive/gate), and a customer is shown only after that unit commits."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm.exc import StaleDataError

from archive.breakglass.repository import BreakGlassRepository
from archive.customers.importing import CustomerImporter, ImportRefused, ImportReport, read_csv
from archive.customers.intake import (
    NOT_COMPARABLE,
    Candidate,
    DuplicateCheck,
    Match,
    comparable_name,
    registration_refusal,
)
from archive.customers.models import (
    SEALED_FIELDS,
    STATUSES,
    TRANSITIONS,
    Customer,
    CustomerCorrection,
    CustomerReviewFlag,
    CustomerStatusChange,
)
from archive.customers.registry import CORRECTABLE_PROFILE, CustomerRegistry, NewCustomer, index_kind
from archive.customers.repository import CustomerFilter, CustomerRepository
from archive.datakeys import SqlKeyStore
from archive.db import UnitOfWork, new_id, utcnow
from archive.errors import (
    Conflict,
    FieldError,
    Forbidden,
    InvalidInput,
    NotFound,
    PreconditionRequired,
    StaleVersion,
)
from archive.gate import LOAN_POINTER, Caller, Gate
from archive.identity.names import Names
from archive.identity.repository import IdentityRepository
from archive.policy.decision import PurposeDecision
from archive.vocabulary import Action, Scope
from crypto.blind_index import BlindIndex
from crypto.envelope import FieldCipher
from crypto.errors import InvalidIndexValue
from crypto.keyring import KeyRing

# Identity verification and risk assessment (002 客户识别流程: 身份验证, 风险评估): set like any
# other field, by a purpose that shows it in clear (the risk level is credit data).
CHOICES = {
    "size_class": ("large", "medium", "small"),
    "verification_status": ("unverified", "verified", "failed"),
    "risk_level": ("unassessed", "low", "medium", "high"),
}
OWN_STEPS = {
    "owner": "owner assignment", "department": "owner assignment", "status": "the lifecycle step",
    "grade": "grading", "code": "nothing (the code is permanent)", "kind": "nothing (register anew)",
    "id": "nothing", "version": "the If-Match header",
}


def check_correction(changes: Mapping[str, object]) -> dict[str, str | None]:
    """Field names and value types of a correction; anything else is a 422 naming the field."""
    errors = []
    clean: dict[str, str | None] = {}
    for field, value in changes.items():
        if field in OWN_STEPS:
            errors.append(FieldError(field, f"not changed by a correction; use {OWN_STEPS[field]}"))
        elif field not in SEALED_FIELDS and field not in CORRECTABLE_PROFILE:
            errors.append(FieldError(field, "not a customer field"))
        elif value is not None and not isinstance(value, str | int | float):
            errors.append(FieldError(field, "a text value or null"))
        elif field in CHOICES and str(value).strip() not in CHOICES[field]:
            errors.append(FieldError(field, f"one of {', '.join(CHOICES[field])}"))
        else:
            clean[field] = None if value is None else str(value).strip() or None
    if not changes:
        errors.append(FieldError("body", "name at least one field to correct"))
    if errors:
        raise InvalidInput("The correction cannot be applied.", errors=errors)
    return clean


# --- the service the routers call ----------------------------------------------------------------


def etag(customer: Customer) -> str:
    return f'"{customer.version}"'


@contextmanager
def same_version() -> Iterator[None]:
    """Around a unit that changes a customer: if another change committed since it read the
    record (its version moved on), its update finds no row of that version — 412, as for a
    stale If-Match, instead of an internal error."""
    try:
        yield
    except StaleDataError:
        raise StaleVersion("The customer changed while your change was being made; read it again and reapply "
                           "your change.") from None


def check_version(customer: Customer, if_match: str | None) -> None:
    """If-Match against the record's version (a weak `W/` form compares the same); a stale one
    is 412, so a change never overwrites one its author has not seen."""
    if if_match and if_match.strip().removeprefix("W/") not in (etag(customer), "*"):
        raise StaleVersion(f"Customer {customer.code} changed since you read it (now {etag(customer)}); "
                           "read it again and reapply your change.")


@dataclass(frozen=True, slots=True)
class CustomerQuery:
    """What a list asks for: public profile filters, departments by code, owners by username
    (`-`: customers nobody owns)."""

    register: str = "active"  # active | inactive | all
    status: str | None = None
    kind: str | None = None
    department: str | None = None
    owner: str | None = None
    region: str | None = None
    industry: str | None = None


class CustomerService:
    """One method per act on customers, each one unit of work: the gate decides and writes the
    event inside it (archive/gate), the rules here decide the rest, and a customer is shown only
    after the unit has committed (`Gate.reveal` against the grant it minted then)."""

    def __init__(self, uow: UnitOfWork, gate: Gate, *, index: BlindIndex, ring: KeyRing, names: Names,
                 importer: CustomerImporter | None = None) -> None:
        self.uow, self.gate, self.index, self.ring, self.names = uow, gate, index, ring, names
        self.importer = importer
        self.repo = CustomerRepository(uow.session)
        self.identity = IdentityRepository(uow.session)
        self.registry = CustomerRegistry(self.repo, gate.field_cipher, index)

    # -- reading -------------------------------------------------------------------------------

    def read(self, caller: Caller, customer_id: uuid.UUID) -> dict[str, object]:
        with self.uow:
            decision, customer = self._decide_on(caller, Action.CUSTOMER_READ, customer_id)
            clear = self._clear(customer)
            admission = self.gate.admit(self.uow, caller, decision, [customer.id], resource_id=str(customer.id))
        return self.gate.reveal(admission, customer, clear=clear)

    def read_self(self, caller: Caller) -> dict[str, object]:
        """A customer's own record (`/me`): purpose implied, scope self."""
        with self.uow:
            decision = self.gate.decide_self(self.uow, caller)
            own = self.repo.get(caller.principal.customer_id) if caller.principal.customer_id else None
            customer = self.gate.check_scope(self.uow, caller, decision, own)
            clear = self._clear(customer)
            admission = self.gate.admit(self.uow, caller, decision, [customer.id], resource_id=str(customer.id))
        return self.gate.reveal(admission, customer, clear=clear)

    def list_page(self, caller: Caller, query: CustomerQuery, *, limit: int,
                  after: uuid.UUID | None) -> dict[str, object]:
        """A page of the customers in the caller's scope (cursor: the last id of the page)."""
        principal = caller.principal
        with self.uow:
            decision = self.gate.decide(self.uow, caller, Action.CUSTOMER_LIST)
            found = self.repo.list_in_scope(decision.scope, user_id=principal.id, department_id=principal.department_id,
                                            limit=limit + 1, after=after, filters=self._filter(query))
            page = list(found[:limit])
            clears = [self._clear(c) for c in page]
            admission = self.gate.admit(self.uow, caller, decision, [c.id for c in page])
        items = [self.gate.reveal(admission, c, clear=k) for c, k in zip(page, clears, strict=True)]
        return {"items": items, "next_cursor": str(page[-1].id) if len(found) > limit else None}

    def search(self, caller: Caller, field: str, value: str) -> dict[str, object]:
        """Exact search by ID/tax number, phone or e-mail through the blind index. Matches in the
        caller's scope are shown as the purpose admits; staff who could borrow learn how many
        matches lie outside it (and where to ask), others learn nothing of them."""
        with self.uow:
            decision = self.gate.decide(self.uow, caller, Action.CUSTOMER_SEARCH)
            try:
                candidates = [c.hex() for c in self.index.candidates(index_kind(field), value)]
            except InvalidIndexValue as error:  # nothing registered can hold it (the value is not echoed)
                raise InvalidInput("This value cannot be searched for.",
                                   errors=[FieldError(field, str(error))]) from None
            matches = self.repo.find_by_index(field, candidates)
            shown = [c for c in matches if self.gate.in_scope(caller, decision, c)]
            elsewhere = len(matches) - len(shown)
            clears = [self._clear(c) for c in shown]
            admission = self.gate.admit(self.uow, caller, decision, [c.id for c in shown],
                                        lookup_hmacs=self.gate.lookup_tokens(field, value),
                                        extra={"field": field, "outside_scope": str(elsewhere)})
        result: dict[str, object] = {
            "items": [self.gate.reveal(admission, c, clear=k) for c, k in zip(shown, clears, strict=True)],
            "next_cursor": None}
        if elsewhere and decision.could_borrow:
            result["outside_scope"] = elsewhere
            result["detail"] = f"{elsewhere} more outside your scope; {LOAN_POINTER}"
        return result

    def history(self, caller: Caller, customer_id: uuid.UUID) -> dict[str, object]:
        """Who changed what, when and why — lifecycle steps, corrections and owner changes; field
        names only, never values (the previous ones stay sealed in the history table)."""
        with self.uow:
            decision, customer = self._decide_on(caller, Action.CUSTOMER_READ, customer_id)
            user = functools.partial(self.names.username, self.uow.session)
            view: dict[str, object] = {
                "id": str(customer.id), "code": customer.code, "status": customer.status,
                "status_changes": [{"from": c.from_status, "to": c.to_status, "reason": c.reason,
                                    "by": user(c.changed_by), "at": c.changed_at}
                                   for c in self.repo.status_changes(customer.id)],
                "changes": [{"field": c.field, "reason": c.reason, "purpose": c.purpose, "version": c.version,
                             "by": user(c.changed_by), "at": c.changed_at} for c in self.repo.corrections(customer.id)],
            }
            self.gate.admit(self.uow, caller, decision, [customer.id], resource_id=str(customer.id), opens=(),
                            fields=(), extra={"view": "history"})
        return view

    # -- registering ---------------------------------------------------------------------------

    def create(self, caller: Caller, new: NewCustomer) -> dict[str, object]:
        """Register a customer (DOMAIN.md "Intake"): within the caller's reach (a rep records
        their own, a head any in the department), refused when the ID or tax number is already
        registered, flagged for review on the same phone or a near-identical name."""
        with self.uow:
            decision = self.gate.decide(self.uow, caller, Action.CUSTOMER_CREATE)
            department_id, owner_id = self._placement(caller, decision, new)
            if not comparable_name(self.index, new.kind, new.name):
                raise InvalidInput("The name cannot be compared with the register.",
                                   errors=[FieldError("name", NOT_COMPARABLE)])
            sensitive = {"name": new.name, **new.sensitive}
            findings = DuplicateCheck(self.uow.session, self.index).one(Candidate(
                kind=new.kind, name=new.name, id_number=sensitive.get("id_number"),
                tax_number=sensitive.get("tax_number"), phone=sensitive.get("phone")))
            if findings.refusals:
                match = findings.refusals[0]
                raise self.gate.refuse(caller, decision, self._duplicate(caller, decision, match),
                                       customer_id=match.customer_id)
            customer = self._register(caller, new, department_id, owner_id, sensitive)
            for match in findings.flags:
                self.repo.add_history(CustomerReviewFlag(customer_id=customer.id, other_customer_id=match.customer_id,
                                                         reason=_flag_reason(match), score=match.score))
            flags = [self._flag_view(caller, decision, match) for match in findings.flags]
            clear = self._clear(customer)
            admission = self.gate.admit(self.uow, caller, decision, [customer.id], resource_id=str(customer.id),
                                        extra={"review_flags": str(len(findings.flags))})
        return {**self.gate.reveal(admission, customer, clear=clear), "review_flags": flags}

    def _placement(self, caller: Caller, decision: PurposeDecision, new: NewCustomer) -> tuple[uuid.UUID, uuid.UUID]:
        """The new customer's department and owner: as named, else the caller's own."""
        principal = caller.principal
        department = (self.identity.department_by_code(new.department) if new.department
                      else self.identity.department(principal.department_id) if principal.department_id else None)
        owner = self.identity.user_by_username(new.owner) if new.owner else self.identity.user(principal.id)
        problems = []
        if department is None:
            problems.append(FieldError("department", "no such department (give its code)"))
        if owner is None or owner.kind != "staff":
            problems.append(FieldError("owner", "no such staff user"))
        if problems or department is None or owner is None:
            raise InvalidInput("The new customer's department or owner is unknown.", errors=problems)
        refusal = registration_refusal(principal.id, principal.department_id, department_id=department.id,
                                       owner_id=owner.id, owner_department=owner.department_id,
                                       whole_department=Scope.DEPARTMENT in decision.scopes)
        if refusal:
            raise self.gate.refuse(caller, decision, Forbidden(refusal))
        return department.id, owner.id

    def _register(self, caller: Caller, new: NewCustomer, department_id: uuid.UUID, owner_id: uuid.UUID,
                  sensitive: Mapping[str, str | None]) -> Customer:
        customer_id = new_id()
        code = new.code or f"C-{customer_id.hex[-10:].upper()}"
        taken = Conflict(f"The customer code {code} is taken; choose another or leave it out to get one.")
        if self.repo.code_taken(code):
            raise taken
        # Sealed under a first data key stored through this unit: it commits with the customer or
        # not at all (archive/datakeys.py `SqlKeyStore.within`).
        keys = self.ring.within(SqlKeyStore.within(self.uow.session))
        registry = CustomerRegistry(self.repo, FieldCipher(keys), self.index)
        try:
            with self.uow.savepoint():
                return registry.register(customer_id=customer_id, code=code, kind=new.kind,
                                         department_id=department_id, owner_id=owner_id, status=new.status,
                                         profile=new.profile, sensitive=sensitive, created_by=caller.principal.id)
        except IntegrityError:  # registered at the same moment by someone else
            raise taken from None

    def _duplicate(self, caller: Caller, decision: PurposeDecision, match: Match) -> Conflict:
        what = "ID number" if match.field == "id_number" else "tax number"
        if self._may_see(caller, decision, match.customer_id):
            return Conflict(f"A customer with this {what} is already registered: {match.code} "
                            f"(GET /api/v1/customers/{match.customer_id}). One record per company.")
        return Conflict(f"A customer with this {what} is already registered (outside your scope); "
                        "one record per company — ask your department head to have it reassigned.")

    def _flag_view(self, caller: Caller, decision: PurposeDecision, match: Match) -> dict[str, object]:
        if self._may_see(caller, decision, match.customer_id):
            return {"reason": _flag_reason(match), "customer_id": str(match.customer_id), "code": match.code,
                    "score": match.score}
        return {"reason": _flag_reason(match), "customer_id": None, "code": None, "score": match.score}

    def _may_see(self, caller: Caller, decision: PurposeDecision, customer_id: uuid.UUID) -> bool:
        other = self.repo.get(customer_id)
        return other is not None and self.gate.could_read(caller, decision, other)

    # -- changing --------------------------------------------------------------------------------

    def correct(self, caller: Caller, customer_id: uuid.UUID, changes: Mapping[str, object], *, reason: str,
                if_match: str | None) -> dict[str, object]:
        """A correction: only of fields the purpose shows in clear, only on the version the caller
        saw (If-Match), with the event in the same transaction as the change."""
        principal = caller.principal
        with same_version(), self.uow:
            decision, customer = self._decide_on(caller, Action.CUSTOMER_UPDATE, customer_id)
            if not if_match:
                raise PreconditionRequired(f"Send If-Match with the ETag you read (now {etag(customer)}), so a "
                                           "correction never overwrites one you have not seen.")
            check_version(customer, if_match)
            clean = check_correction(changes)
            self.gate.check_fields(self.uow, caller, decision, customer, clean)
            if not reason.strip():
                raise InvalidInput("Say why you correct this record.", errors=[FieldError("reason", "required")])
            changed = self.registry.correct(customer, clean, reason=reason.strip(), purpose=_purpose(decision),
                                            changed_by=None if principal.is_customer else principal.id)
            clear = self._clear(customer)
            admission = self.gate.admit(self.uow, caller, decision, [customer.id], resource_id=str(customer.id),
                                        fields=tuple(changed), extra={"version": str(customer.version)})
        return self.gate.reveal(admission, customer, clear=clear)

    def change_status(self, caller: Caller, customer_id: uuid.UUID, to: str, *, reason: str,
                      if_match: str | None) -> dict[str, object]:
        """A lifecycle step (DOMAIN.md): only along the allowed transitions, with a reason, kept in
        the customer's status history; `suspended` and `ended` leave the active register."""
        with same_version(), self.uow:
            decision, customer = self._decide_on(caller, Action.CUSTOMER_STATUS, customer_id)
            check_version(customer, if_match)
            if to not in STATUSES:
                raise InvalidInput("Unknown status.", errors=[FieldError("status", f"one of {', '.join(STATUSES)}")])
            if to not in TRANSITIONS[customer.status]:
                allowed = ", ".join(sorted(TRANSITIONS[customer.status])) or "none (it has ended)"
                raise Conflict(f"Customer {customer.code} is {customer.status}; it can go to: {allowed}.")
            if not reason.strip():
                raise InvalidInput("Say why the relationship changes.", errors=[FieldError("reason", "required")])
            before = customer.status
            customer.status, customer.updated_at = to, utcnow()
            self.repo.add_history(CustomerStatusChange(customer_id=customer.id, from_status=before, to_status=to,
                                                       reason=reason.strip(), changed_by=caller.principal.id))
            clear = self._clear(customer)
            admission = self.gate.admit(self.uow, caller, decision, [customer.id], resource_id=str(customer.id),
                                        fields=("status",), extra={"from": before, "to": to})
        return self.gate.reveal(admission, customer, clear=clear)

    def assign_owner(self, caller: Caller, customer_id: uuid.UUID, owner: str | None, *, reason: str,
                     if_match: str | None) -> dict[str, object]:
        """The manager's say on ownership (003): any active staff member of the customer's
        department, or nobody; the change is kept in the correction history with its reason."""
        with same_version(), self.uow:
            decision, customer = self._decide_on(caller, Action.CUSTOMER_ASSIGN, customer_id)
            check_version(customer, if_match)
            new_owner = self.identity.user_by_username(owner) if owner else None
            if owner and (new_owner is None or new_owner.kind != "staff" or new_owner.disabled
                          or new_owner.department_id != customer.department_id):
                raise InvalidInput("The new owner must be an active staff member of the customer's department.",
                                   errors=[FieldError("owner", "no such staff user in that department")])
            if not reason.strip():
                raise InvalidInput("Say why the customer changes hands.", errors=[FieldError("reason", "required")])
            previous = self.names.username(self.uow.session, customer.owner_id)
            customer.owner_id, customer.updated_at = (new_owner.id if new_owner else None), utcnow()
            self.uow.session.flush()  # bumps the version the history row names
            self.repo.add_history(CustomerCorrection(customer_id=customer.id, field="owner", previous_clear=previous,
                                                     version=customer.version, reason=reason.strip(),
                                                     purpose=_purpose(decision), changed_by=caller.principal.id))
            clear = self._clear(customer)
            admission = self.gate.admit(self.uow, caller, decision, [customer.id], resource_id=str(customer.id),
                                        fields=("owner",), extra={"owner": str(new_owner.id) if new_owner else ""})
        return self.gate.reveal(admission, customer, clear=clear)

    # -- the review list of possible duplicates ----------------------------------------------------

    def review_flags(self, caller: Caller, *, resolved: bool = False, limit: int = 100) -> list[dict[str, object]]:
        """Possible duplicates waiting for a person (the manager decides, 003): flags on customers
        in the caller's list scope, with both customers' codes where the caller may see them."""
        user = functools.partial(self.names.username, self.uow.session)
        with self.uow:
            decision = self.gate.decide(self.uow, caller, Action.CUSTOMER_LIST)
            rows = [(flag, customer) for flag, customer in self.repo.review_flags(resolved=resolved, limit=limit)
                    if self.gate.in_scope(caller, decision, customer)]
            views: list[dict[str, object]] = [{
                "id": str(flag.id), "reason": flag.reason, "score": flag.score, "created_at": flag.created_at,
                "customer_id": str(customer.id), "code": customer.code,
                "other": self._flag_view(caller, decision, Match(
                    "phone" if flag.reason == "same_phone" else "name", flag.other_customer_id,
                    self.repo.code_of(flag.other_customer_id), flag.score or 100)),
                "outcome": flag.outcome, "note": flag.note, "resolved_at": flag.resolved_at,
                "resolved_by": user(flag.resolved_by)} for flag, customer in rows]
            self.gate.admit(self.uow, caller, decision, [c.id for _, c in rows], resource_id="review_flags", opens=(),
                            fields=("code",), extra={"view": "review_flags"})
        return views

    def resolve_flag(self, caller: Caller, flag_id: uuid.UUID, outcome: str, note: str) -> dict[str, object]:
        """The manager's verdict on a flag: `distinct` (two customers) or `duplicate` (then the
        records are merged or ended by their own steps). Decided as an owner assignment is."""
        with self.uow:
            decision = self.gate.decide(self.uow, caller, Action.CUSTOMER_ASSIGN)
            flag = self.repo.review_flag(flag_id)
            if flag is None:
                raise NotFound("No such review flag.")
            customer = self.gate.check_scope(self.uow, caller, decision, self.repo.get(flag.customer_id))
            if outcome not in ("distinct", "duplicate"):
                raise InvalidInput("Say what the review found.",
                                   errors=[FieldError("outcome", "distinct or duplicate")])
            if flag.resolved_at is not None:
                raise Conflict("This flag has already been resolved.")
            flag.outcome, flag.note = outcome, note.strip()
            flag.resolved_at, flag.resolved_by = utcnow(), caller.principal.id
            self.uow.session.flush()
            self.gate.admit(self.uow, caller, decision, [customer.id], resource_id=str(flag.id), opens=(), fields=(),
                            extra={"review_flag": outcome})
        return {"id": str(flag.id), "outcome": outcome, "customer_id": str(customer.id), "code": customer.code}

    # -- the bulk intake ---------------------------------------------------------------------------

    def import_file(self, caller: Caller, data: bytes, *, encoding: str = "utf-8", update: bool = False,
                    dry_run: bool = False) -> ImportReport:
        """A CSV in API.md's import format, all or nothing: the whole file is this request's unit of
        work (the importer checks and writes it a part at a time inside it)."""
        if self.importer is None:
            raise RuntimeError("this service was built without an importer")
        rows, problems = read_csv(data, encoding)
        if problems:
            raise ImportRefused(ImportReport(problems=problems))
        return self.importer.run(caller.principal, caller.purpose, rows, auditor=caller.auditor, update=update,
                                 dry_run=dry_run, uow=self.uow)

    # -- helpers ---------------------------------------------------------------------------------

    def _decide_on(self, caller: Caller, action: Action, customer_id: uuid.UUID) -> tuple[PurposeDecision, Customer]:
        """Steps 2 to 4 for one customer: the decision, and the customer within its scope."""
        decision = self.gate.decide(self.uow, caller, action, customer_id=customer_id, break_glass=self._break_glass)
        return decision, self.gate.check_scope(self.uow, caller, decision, self.repo.get(customer_id))

    def _break_glass(self, user_id: uuid.UUID, customer_id: uuid.UUID) -> bool:
        return BreakGlassRepository(self.uow.session).is_open(user_id, customer_id)

    def _clear(self, customer: Customer) -> dict[str, str | None]:
        """What a customer shows in clear besides its own columns: department code and owner."""
        session = self.uow.session
        return {"department": self.names.department_code(session, customer.department_id),
                "owner": self.names.username(session, customer.owner_id)}

    def _filter(self, query: CustomerQuery) -> CustomerFilter:
        """Codes and usernames as ids; an unknown one matches no customer (still decided and logged)."""
        nothing = uuid.UUID(int=0)
        department = self.identity.department_by_code(query.department) if query.department else None
        owner = self.identity.user_by_username(query.owner) if query.owner and query.owner != "-" else None
        return CustomerFilter(register=query.register, status=query.status, kind=query.kind,
                              department_id=(department.id if department else nothing) if query.department else None,
                              owner_id=(owner.id if owner else nothing) if query.owner and query.owner != "-" else None,
                              unowned=query.owner == "-", region=query.region, industry=query.industry)


def _flag_reason(match: Match) -> str:
    return "same_phone" if match.field == "phone" else "similar_name"


def _purpose(decision: PurposeDecision) -> str:
    return decision.purpose.value if decision.purpose else ""
