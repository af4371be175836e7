"""A decision is a value with its reason (STYLE.md item 10): what was decided, why, by which
rule of which policy version, which customers it reaches and what of each it shows."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum

from archive.policy.masking import apply_mask
from archive.vocabulary import Action, DocumentKind, Permission, Purpose, Scope, Via


class Visibility(StrEnum):
    CLEAR = "clear"
    MASKED = "masked"
    OMITTED = "omitted"  # null in the response; never decrypted


class Outcome(StrEnum):
    """Why a decision came out as it did; the HTTP layer maps these (API.md "Order of checks")."""

    ALLOWED = "allowed"
    NO_POLICY = "no_policy"  # empty or unloaded policy: everything is denied
    NO_ROLE = "no_role"  # no usable role (an empty subject never matches)
    PURPOSE_MISSING = "purpose_missing"  # 400: name the purposes the caller may use
    PURPOSE_NOT_PERMITTED = "purpose_not_permitted"  # 403: the role may not use this purpose
    ACTION_NOT_PERMITTED = "action_not_permitted"  # 403: the purpose does not fit this action
    DENIED_BY_RULE = "denied_by_rule"  # 403: an explicit deny rule


@dataclass(frozen=True, slots=True)
class FieldPlan:
    """How one field is shown under a decision."""

    visibility: Visibility  # for a value stored encrypted
    mask: str | None = None  # masking rule id when masked
    encrypted: bool = True
    clear_for_kinds: frozenset[str] = frozenset()  # customer kinds for which the value is public

    def visibility_for(self, customer_kind: str | None = None) -> Visibility:
        if customer_kind is not None and customer_kind in self.clear_for_kinds:
            return Visibility.CLEAR
        return self.visibility

    def needs_plaintext(self, customer_kind: str | None = None) -> bool:
        """Whether the gate must decrypt this field (clear or masked); omitted never is."""
        return self.encrypted and self.visibility_for(customer_kind) is not Visibility.OMITTED

    def render(self, value: str | None, customer_kind: str | None = None) -> str | None:
        visibility = self.visibility_for(customer_kind)
        if visibility is Visibility.CLEAR:
            return value
        if visibility is Visibility.MASKED and self.mask is not None:
            return apply_mask(self.mask, value)
        return None


@dataclass(frozen=True, slots=True)
class PurposeDecision:
    allowed: bool
    outcome: Outcome
    reason: str  # for a person: what to do about it
    roles: frozenset[str]
    action: Action
    purpose: Purpose | None  # as stated, or implied (data_subject_request for a customer)
    via: Via
    policy_version: str
    matched_rule: tuple[str, ...] = ()  # the row pycasbin's enforce_ex names, e.g. ("sales_rep", …, "allow")
    scopes: frozenset[Scope] = frozenset()  # every scope the matched allow rules (and a loan) reach
    fields: Mapping[str, FieldPlan] | None = None  # None when denied
    document_kinds: frozenset[DocumentKind] = frozenset()  # kinds whose content is admitted
    categories: tuple[str, ...] = ()  # data categories the decision admits (for the audit event)
    could_borrow: bool = False  # the caller holds a staff role with a borrowable purpose
    implied_purpose: bool = False

    @property
    def scope(self) -> Scope:
        """The widest scope reached (for display); `scopes` has all of them."""
        return next((s for s in _WIDEST_FIRST if s in self.scopes), Scope.NONE)

    @property
    def rule_text(self) -> str:
        """The matched rule as it reads in the CSV, for the audit event."""
        return ", ".join(("p", *self.matched_rule)) if self.matched_rule else ""

    def visible_fields(self, customer_kind: str | None = None) -> tuple[str, ...]:
        plan = self.fields or {}
        return tuple(f for f, p in plan.items() if p.visibility_for(customer_kind) is not Visibility.OMITTED)

    def render(self, values: Mapping[str, str | None], customer_kind: str | None = None) -> dict[str, str | None]:
        """Every planned field: the value, its masked form, or None."""
        plan = self.fields or {}
        return {name: p.render(values.get(name), customer_kind) for name, p in plan.items()}


@dataclass(frozen=True, slots=True)
class PermissionDecision:
    """Whether roles hold a permission (administration, break-glass), with the rule that says so."""

    allowed: bool
    permission: Permission
    roles: frozenset[str]
    reason: str
    policy_version: str
    matched_rule: tuple[str, ...] = ()  # as pycasbin's enforce_ex names it

    @property
    def rule_text(self) -> str:
        return ", ".join(("p", *self.matched_rule)) if self.matched_rule else ""


_WIDEST_FIRST = (Scope.ALL, Scope.METADATA, Scope.DEPARTMENT, Scope.OWN, Scope.SELF, Scope.BREAK_GLASS,
                 Scope.LOAN, Scope.JOINT_LIST, Scope.AGGREGATES, Scope.NONE)
