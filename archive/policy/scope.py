"""Is this customer within what the decision reaches? And if not: 403 with the loan pointer
(the caller could borrow it) or 404 (the caller could never read it) — DOMAIN.md "Who may
read what", API.md "Order of checks" step 4."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from archive.policy.decision import PurposeDecision
from archive.vocabulary import Scope

LOAN_POINTER = "POST /api/v1/loans"


@dataclass(frozen=True, slots=True)
class Relation:
    """How the caller stands to one customer; the gate fills it in from the database."""

    owner: bool = False  # the caller owns the customer
    same_department: bool = False  # the customer is owned by the caller's department
    is_self: bool = False  # the caller is this customer
    loan_purposes: frozenset[str] = frozenset()  # purposes of the caller's active loans on this customer
    break_glass: bool = False  # the caller has an open break-glass on this customer


class ScopeVerdict(StrEnum):
    IN_SCOPE = "in_scope"
    FORBIDDEN = "forbidden"  # 403: staff who could borrow may know the record exists
    NOT_FOUND = "not_found"  # 404: indistinguishable from a record that does not exist


@dataclass(frozen=True, slots=True)
class ScopeResult:
    verdict: ScopeVerdict
    scope: Scope | None  # the scope that reached the customer
    reason: str
    loan_pointer: bool = False  # the reason points to the loan request form

    @property
    def in_scope(self) -> bool:
        return self.verdict is ScopeVerdict.IN_SCOPE


def _reaches(scope: Scope, decision: PurposeDecision, relation: Relation) -> bool:
    if scope is Scope.ALL or scope is Scope.METADATA:
        return True
    if scope is Scope.OWN:
        return relation.owner
    if scope is Scope.DEPARTMENT:
        return relation.same_department
    if scope is Scope.SELF:
        return relation.is_self
    if scope is Scope.LOAN:  # a loan binds its purpose: reads under it must state that purpose
        return decision.purpose is not None and decision.purpose in relation.loan_purposes
    if scope is Scope.BREAK_GLASS:
        return relation.break_glass
    return False  # aggregates, joint_list, none: no single customer


_ORDER = (Scope.ALL, Scope.METADATA, Scope.SELF, Scope.OWN, Scope.DEPARTMENT, Scope.BREAK_GLASS, Scope.LOAN)


def evaluate_scope(decision: PurposeDecision, relation: Relation) -> ScopeResult:
    """The scope check for one customer under an allowed decision."""
    if not decision.allowed:
        raise ValueError("scope is evaluated only for an allowed decision")
    for scope in _ORDER:
        if scope in decision.scopes and _reaches(scope, decision, relation):
            return ScopeResult(ScopeVerdict.IN_SCOPE, scope, f"within scope {scope}")
    if not decision.could_borrow:
        return ScopeResult(ScopeVerdict.NOT_FOUND, None, "no such customer")
    if Scope.LOAN in decision.scopes:
        return ScopeResult(ScopeVerdict.FORBIDDEN, None,
                           f"no active loan for this customer with purpose {decision.purpose}; "
                           f"request one at {LOAN_POINTER}", loan_pointer=True)
    return ScopeResult(ScopeVerdict.FORBIDDEN, None,
                       f"this customer is outside your scope ({decision.scope}) for {decision.action}")
