"""Decision tables written by hand from DOMAIN.md "Who may read what" — never derived from
`policies/`, so a wrong policy fails here."""

from __future__ import annotations

import itertools

import pytest

from archive.policy import Outcome, PolicyEngine
from archive.vocabulary import Action, Permission, Purpose, Role, Scope

ENGINE = PolicyEngine()
R, P = Role, Purpose

# DOMAIN.md: role -> purposes it may use.
USABLE = {
    R.SALES_REP: {P.SALES_FOLLOWUP, P.ADVISORY, P.CUSTOMER_SERVICE},
    R.DEPARTMENT_HEAD: {P.SALES_FOLLOWUP, P.ADVISORY, P.CUSTOMER_SERVICE, P.GRADING},
    R.CREDIT_MANAGER: {P.CONTRACT_MANAGEMENT, P.CREDIT_REVIEW, P.COLLECTION},
    R.FINANCE: {P.CREDIT_REVIEW, P.COLLECTION, P.REPORTING, P.REGISTER_REVIEW},
    R.ARCHIVIST: {P.ARCHIVE_MAINTENANCE},
    R.CRM_MANAGER: {P.GRADING, P.CUSTOMER_SERVICE, P.REPORTING},
    R.MARKETING: {P.JOINT_MARKETING, P.REPORTING},
    R.CUSTOMER_SERVICE: {P.CUSTOMER_SERVICE},
    R.COMPLIANCE_OFFICER: {P.AUDIT},
    R.GENERAL_MANAGER: {P.REPORTING},
    R.ADMIN: set(),
    R.CUSTOMER: {P.DATA_SUBJECT_REQUEST},
}

# DOMAIN.md: the scope `customer.read` reaches without a loan (None: not allowed at all).
READ_SCOPE = {
    (R.SALES_REP, P.SALES_FOLLOWUP): Scope.OWN,
    (R.SALES_REP, P.ADVISORY): Scope.OWN,
    (R.SALES_REP, P.CUSTOMER_SERVICE): Scope.OWN,
    (R.DEPARTMENT_HEAD, P.SALES_FOLLOWUP): Scope.DEPARTMENT,
    (R.DEPARTMENT_HEAD, P.ADVISORY): Scope.OWN,  # advisory: "own customers only"
    (R.DEPARTMENT_HEAD, P.CUSTOMER_SERVICE): Scope.DEPARTMENT,
    (R.DEPARTMENT_HEAD, P.GRADING): Scope.DEPARTMENT,
    (R.CREDIT_MANAGER, P.CONTRACT_MANAGEMENT): Scope.LOAN,
    (R.CREDIT_MANAGER, P.CREDIT_REVIEW): Scope.LOAN,
    (R.CREDIT_MANAGER, P.COLLECTION): Scope.LOAN,
    (R.FINANCE, P.CREDIT_REVIEW): Scope.ALL,
    (R.FINANCE, P.COLLECTION): Scope.ALL,
    (R.FINANCE, P.REGISTER_REVIEW): Scope.ALL,
    (R.FINANCE, P.REPORTING): None,  # aggregates only
    (R.ARCHIVIST, P.ARCHIVE_MAINTENANCE): Scope.METADATA,
    (R.CRM_MANAGER, P.GRADING): Scope.ALL,
    (R.CRM_MANAGER, P.CUSTOMER_SERVICE): Scope.ALL,
    (R.CRM_MANAGER, P.REPORTING): None,
    (R.MARKETING, P.JOINT_MARKETING): None,  # the joint list only
    (R.MARKETING, P.REPORTING): None,
    (R.CUSTOMER_SERVICE, P.CUSTOMER_SERVICE): Scope.ALL,
    (R.COMPLIANCE_OFFICER, P.AUDIT): None,  # only through break-glass
    (R.GENERAL_MANAGER, P.REPORTING): None,
    (R.CUSTOMER, P.DATA_SUBJECT_REQUEST): Scope.SELF,
}

# Document content by relation-free scope: who reaches contract dossiers of every customer.
CONTRACT_CONTENT_ALL = {(R.CREDIT_MANAGER, P.CONTRACT_MANAGEMENT), (R.FINANCE, P.CREDIT_REVIEW),
                        (R.FINANCE, P.COLLECTION), (R.FINANCE, P.REGISTER_REVIEW)}


@pytest.mark.parametrize(("role", "purpose"), list(itertools.product(Role, Purpose)))
def test_purpose_usability(role, purpose):
    decision = ENGINE.decide(frozenset({role}), Action.CUSTOMER_READ, purpose)
    may = purpose in USABLE[role]
    assert (decision.outcome is not Outcome.PURPOSE_NOT_PERMITTED) == may
    assert (purpose in ENGINE.usable_purposes([role])) == may


def test_the_read_table_covers_every_usable_pair():
    assert set(READ_SCOPE) == {(r, p) for r, ps in USABLE.items() for p in ps}


@pytest.mark.parametrize(("role", "purpose"), sorted(READ_SCOPE))
def test_customer_read_scope(role, purpose):
    decision = ENGINE.decide(frozenset({role}), Action.CUSTOMER_READ, purpose)
    expected = READ_SCOPE[(role, purpose)]
    assert decision.allowed == (expected is not None)
    if expected is not None:
        assert decision.scope is expected


@pytest.mark.parametrize(("role", "purpose"), sorted(READ_SCOPE))
def test_contract_content_of_every_customer(role, purpose):
    decision = ENGINE.decide(frozenset({role}), Action.DOCUMENT_CONTENT_READ, purpose)
    reaches_all = decision.allowed and Scope.ALL in decision.scopes and bool(decision.document_kinds)
    contract = {"contract_original", "payment_voucher"} <= {k.value for k in decision.document_kinds}
    assert (reaches_all and contract) == ((role, purpose) in CONTRACT_CONTENT_ALL)


@pytest.mark.parametrize("role", list(Role))
def test_who_could_borrow(role):
    # DOMAIN.md: any staff role with a customer purpose may borrow; customers, admin,
    # compliance (break-glass instead), reporting-only and list-only roles may not.
    borrowers = {R.SALES_REP, R.DEPARTMENT_HEAD, R.CREDIT_MANAGER, R.FINANCE, R.CRM_MANAGER, R.CUSTOMER_SERVICE}
    assert ENGINE.could_borrow([role]) == (role in borrowers)


@pytest.mark.parametrize("role", [R.FINANCE, R.CRM_MANAGER, R.MARKETING, R.GENERAL_MANAGER])
def test_reports_are_aggregates_only(role):
    decision = ENGINE.decide(frozenset({role}), Action.REPORT_READ, P.REPORTING)
    assert decision.allowed and decision.scopes == {Scope.AGGREGATES}
    assert decision.visible_fields() == () and decision.document_kinds == frozenset()


# DOMAIN.md "Roles" and "Who may read what": who manages users, departments and the policy
# (admin), who opens break-glass (a compliance officer) and who reviews it (another compliance
# officer or the general manager). Nobody else holds any of these.
HOLDS = {
    R.ADMIN: {Permission.USER_MANAGE, Permission.DEPARTMENT_MANAGE, Permission.POLICY_MANAGE},
    R.COMPLIANCE_OFFICER: {Permission.BREAK_GLASS_OPEN, Permission.BREAK_GLASS_REVIEW},
    R.GENERAL_MANAGER: {Permission.BREAK_GLASS_REVIEW},
}


@pytest.mark.parametrize(("role", "permission"), list(itertools.product(Role, Permission)))
def test_permissions(role, permission):
    decision = ENGINE.permission(frozenset({role}), permission)
    assert decision.allowed == (permission in HOLDS.get(role, set()))
    assert ENGINE.may([role], permission) == decision.allowed
    assert decision.reason and decision.policy_version == ENGINE.version


def test_a_user_holding_admin_and_another_role_still_manages_users_but_reads_no_customer():
    roles = frozenset({R.ADMIN, R.FINANCE})
    assert ENGINE.may(roles, Permission.USER_MANAGE)
    assert not ENGINE.decide(roles, Action.CUSTOMER_READ, P.CREDIT_REVIEW).allowed  # deny.csv wins
    assert not ENGINE.may(frozenset(), Permission.USER_MANAGE)
    assert not ENGINE.may({" admin"}, Permission.USER_MANAGE)  # a padded role never matches
