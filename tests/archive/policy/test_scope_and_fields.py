"""Scope evaluation (in scope / 403 with the loan pointer / 404) and the per-purpose field
plan, both by hand from DOMAIN.md."""

from __future__ import annotations

import pytest

from archive.policy import PolicyEngine, Relation, ScopeVerdict, Visibility, evaluate_scope
from archive.vocabulary import DOCUMENT_KINDS as KINDS
from archive.vocabulary import Action, DocumentFile, DocumentKind, Purpose, Role, Scope

ENGINE = PolicyEngine()
R, P = Role, Purpose
IN, FORBID, HIDE = ScopeVerdict.IN_SCOPE, ScopeVerdict.FORBIDDEN, ScopeVerdict.NOT_FOUND
OWN = Relation(owner=True, same_department=True)
DEPT = Relation(same_department=True)
OTHER = Relation()

# (role, purpose) -> verdict for (own customer, same department, other department)
CASES = {
    (R.SALES_REP, P.SALES_FOLLOWUP): (IN, FORBID, FORBID),
    (R.DEPARTMENT_HEAD, P.SALES_FOLLOWUP): (IN, IN, FORBID),
    (R.DEPARTMENT_HEAD, P.ADVISORY): (IN, FORBID, FORBID),
    (R.CREDIT_MANAGER, P.CREDIT_REVIEW): (FORBID, FORBID, FORBID),
    (R.FINANCE, P.CREDIT_REVIEW): (IN, IN, IN),
    (R.ARCHIVIST, P.ARCHIVE_MAINTENANCE): (IN, IN, IN),
    (R.CRM_MANAGER, P.CUSTOMER_SERVICE): (IN, IN, IN),
    (R.CUSTOMER_SERVICE, P.CUSTOMER_SERVICE): (IN, IN, IN),
}


def decide(role, purpose, action=Action.CUSTOMER_READ, **kw):
    return ENGINE.decide(frozenset({role}), action, purpose, **kw)


@pytest.mark.parametrize(("role", "purpose"), sorted(CASES))
def test_scope_by_relation(role, purpose):
    decision = decide(role, purpose)
    got = tuple(evaluate_scope(decision, rel).verdict for rel in (OWN, DEPT, OTHER))
    assert got == CASES[(role, purpose)]


def test_out_of_scope_read_points_to_the_loan_form():
    result = evaluate_scope(decide(R.SALES_REP, P.SALES_FOLLOWUP), OTHER)
    assert result.loan_pointer and "POST /api/v1/loans" in result.reason


def test_out_of_scope_update_is_403_without_a_loan_pointer():
    result = evaluate_scope(decide(R.SALES_REP, P.SALES_FOLLOWUP, Action.CUSTOMER_UPDATE), OTHER)
    assert result.verdict is FORBID and not result.loan_pointer


def test_a_loan_reaches_only_under_its_own_purpose():
    decision = decide(R.CREDIT_MANAGER, P.CREDIT_REVIEW)
    assert evaluate_scope(decision, Relation(loan_purposes=frozenset({"credit_review"}))).scope is Scope.LOAN
    assert evaluate_scope(decision, Relation(loan_purposes=frozenset({"collection"}))).verdict is FORBID
    update = decide(R.SALES_REP, P.SALES_FOLLOWUP, Action.CUSTOMER_UPDATE)  # a loan is for reading
    assert evaluate_scope(update, Relation(loan_purposes=frozenset({"sales_followup"}))).verdict is FORBID


def test_customer_and_break_glass():
    me = ENGINE.decide(frozenset({R.CUSTOMER}), Action.CUSTOMER_READ, None)
    assert evaluate_scope(me, Relation(is_self=True)).verdict is IN
    assert evaluate_scope(me, OWN).verdict is HIDE
    glass = decide(R.COMPLIANCE_OFFICER, P.AUDIT, break_glass=True)
    assert evaluate_scope(glass, Relation(break_glass=True)).verdict is IN
    assert evaluate_scope(glass, OWN).verdict is HIDE


def test_scope_of_a_denied_decision_is_a_programming_error():
    with pytest.raises(ValueError, match="allowed"):
        evaluate_scope(decide(R.ADMIN, P.AUDIT), OWN)


def visible(decision, kind=None):
    return {f: p.visibility_for(kind) for f, p in (decision.fields or {}).items()
            if p.visibility_for(kind) is not Visibility.OMITTED}


C, M = Visibility.CLEAR, Visibility.MASKED


def test_customer_service_sees_profile_contact_and_masked_identity():
    v = visible(decide(R.CUSTOMER_SERVICE, P.CUSTOMER_SERVICE))
    assert v["name"] is C and v["phone"] is C and v["address"] is C
    assert v["id_number"] is M and v["tax_number"] is M
    assert not {"annual_volume", "bank_accounts", "credit_rating", "savings", "insurance_policies"} & set(v)


def test_sales_followup_adds_account_and_advisory_has_no_identity():
    sales = visible(decide(R.SALES_REP, P.SALES_FOLLOWUP))
    assert sales["annual_volume"] is C and sales["id_number"] is M and "credit_rating" not in sales
    advisory = visible(decide(R.SALES_REP, P.ADVISORY))
    assert "id_number" not in advisory and advisory["savings"] is C and advisory["insurance_policies"] is C


def test_credit_purposes_see_identity_in_clear_and_no_holdings():
    v = visible(decide(R.FINANCE, P.CREDIT_REVIEW))
    assert v["id_number"] is C and v["credit_rating"] is C and "savings" not in v


def test_joint_marketing_list_never_has_identity_or_account():
    v = visible(decide(R.MARKETING, P.JOINT_MARKETING, Action.JOINT_LIST_READ))
    assert v["phone"] is C and v["email"] is C
    assert not {"id_number", "tax_number", "bank_accounts", "credit_rating", "savings"} & set(v)


def test_archivist_sees_metadata_only():
    d = decide(R.ARCHIVIST, P.ARCHIVE_MAINTENANCE)
    assert visible(d)["code"] is C and visible(d)["name"] is M  # an individual's name
    assert visible(d, "enterprise")["name"] is C  # public registry data
    assert set(visible(d)) <= {"code", "kind", "status", "department", "owner", "grade", "industry", "region",
                               "size_class", "name", "verification_status"}
    assert d.document_kinds == frozenset()
    rendered = d.render({"name": "张三丰", "phone": "13812345678"})
    assert rendered["name"] == "张**" and rendered["phone"] is None


def test_grading_sees_only_its_inputs_beyond_the_profile():
    v = visible(decide(R.CRM_MANAGER, P.GRADING))
    assert {"annual_volume", "credit_rating", "cooperation_since"} <= set(v)
    assert not {"phone", "id_number", "bank_accounts", "credit_limit", "savings"} & set(v)


def test_break_glass_and_data_subject_request_see_everything():
    for d in (decide(R.COMPLIANCE_OFFICER, P.AUDIT, break_glass=True),
              ENGINE.decide(frozenset({R.CUSTOMER}), Action.CUSTOMER_READ, None)):
        assert all(p.visibility is C for p in (d.fields or {}).values())
        assert d.document_kinds == set(DocumentKind)
        assert d.categories == ("basic", "account", "credit", "investment", "insurance")


def test_document_kinds_follow_categories_and_files():
    service = decide(R.CUSTOMER_SERVICE, P.CUSTOMER_SERVICE, Action.DOCUMENT_CONTENT_READ).document_kinds
    assert service == {k for k, (_, cat, group) in KINDS.items() if cat == "basic" and group is None}
    contract = decide(R.CREDIT_MANAGER, P.CONTRACT_MANAGEMENT, Action.DOCUMENT_CONTENT_READ).document_kinds
    assert contract == {k for k, (file, _, _) in KINDS.items() if file is DocumentFile.CONTRACT}


def test_omitted_fields_are_never_decrypted_and_masks_apply():
    d = decide(R.SALES_REP, P.CUSTOMER_SERVICE)
    plan = d.fields or {}
    assert not plan["credit_rating"].needs_plaintext() and plan["id_number"].needs_plaintext()
    assert not plan["code"].needs_plaintext()  # stored unencrypted
    out = d.render({"id_number": "110101199003071234", "phone": "13812345678", "credit_rating": "AAA"})
    assert out["id_number"] == "**************1234" and out["phone"] == "13812345678"
    assert out["credit_rating"] is None
    assert d.categories == ("basic",)
