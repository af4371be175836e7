"""The access policy: vocabulary-checked files under `policies/`, decided once per (role set,
action, purpose) and cached; scope, masking and the policy linter. Pure: no database, no HTTP.

    engine = PolicyEngine()                      # policies/ next to the archive package
    d = engine.decide(frozenset({Role.SALES_REP}), Action.CUSTOMER_READ, Purpose.SALES_FOLLOWUP)
    evaluate_scope(d, Relation(owner=True)).in_scope  # -> True
    d.render({"phone": "13812345678"})           # per-field clear / masked / None
    engine.may(frozenset({Role.ADMIN}), Permission.USER_MANAGE)  # -> True (policies/permissions.csv)
"""

from archive.policy.check import check_policies
from archive.policy.decision import FieldPlan, Outcome, PermissionDecision, PurposeDecision, Visibility
from archive.policy.engine import PolicyEngine, default_policy_dir
from archive.policy.files import PolicyError, Problem, Severity, policy_version
from archive.policy.masking import MASKS, apply_mask
from archive.policy.purposes import Admission, PurposeSpec
from archive.policy.scope import LOAN_POINTER, Relation, ScopeResult, ScopeVerdict, evaluate_scope

__all__ = [
    "LOAN_POINTER",
    "MASKS",
    "Admission",
    "FieldPlan",
    "Outcome",
    "PermissionDecision",
    "PolicyEngine",
    "PolicyError",
    "Problem",
    "PurposeDecision",
    "PurposeSpec",
    "Relation",
    "ScopeResult",
    "ScopeVerdict",
    "Severity",
    "Visibility",
    "apply_mask",
    "check_policies",
    "default_policy_dir",
    "evaluate_scope",
    "policy_version",
]
