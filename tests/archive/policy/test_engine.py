"""The engine's safety properties: empty policy, empty subject, deny wins, admin and compliance
denies, the customer principal, caching, reload."""

from __future__ import annotations

import itertools
import threading
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from archive.policy import Outcome, PolicyEngine, PolicyError
from archive.vocabulary import Action, Purpose, Role, Scope
from tests.archive.policy.policyfiles import append, copy_policies, replace

ENGINE = PolicyEngine()
STAFF = [r for r in Role if r is not Role.CUSTOMER]
READS = [Action.CUSTOMER_READ, Action.CUSTOMER_LIST, Action.CUSTOMER_SEARCH, Action.DOCUMENT_LIST,
         Action.DOCUMENT_READ, Action.DOCUMENT_CONTENT_READ]


def every_cell(engine, roles_options, break_glass=(False, True)):
    for roles, action, purpose, bg in itertools.product(roles_options, Action, [*Purpose, None], break_glass):
        yield engine.decide(frozenset(roles), action, purpose, break_glass=bg)


def empty_policy(tmp_path):
    d = copy_policies(tmp_path)
    for name in ("allow.csv", "deny.csv", "roles.csv"):
        (d / name).write_text("# nothing\n")
    return d


def test_empty_policy_denies_everything(tmp_path):
    engine = PolicyEngine(empty_policy(tmp_path))
    decisions = list(every_cell(engine, [[r] for r in Role] + [[], [""]]))
    assert decisions and not any(d.allowed for d in decisions)
    assert {d.outcome for d in decisions} == {Outcome.NO_POLICY}


def test_unloaded_engine_denies_everything():
    engine = PolicyEngine.unloaded()
    assert not any(d.allowed for d in every_cell(engine, [[r] for r in Role]))
    assert engine.version == "unloaded"


def test_bare_casbin_on_an_empty_policy_does_not_let_an_empty_subject_through(tmp_path):
    engine = PolicyEngine(empty_policy(tmp_path))
    assert engine.enforcer is not None
    assert engine.enforcer.enforce("", "", "", "") is False
    assert engine.enforcer.enforce("", "sales_followup", "customer.read", "standard") is False


@pytest.mark.parametrize("roles", [frozenset(), frozenset({""}), frozenset({" "}), frozenset({"sales_rep "}),
                                   frozenset({"SALES_REP"}), frozenset({"sаles_rep"}), frozenset({"*"})])
def test_empty_or_unknown_subject_never_matches(roles):
    for action, purpose in itertools.product(Action, [*Purpose, None]):
        assert not ENGINE.decide(roles, action, purpose).allowed


@settings(max_examples=200, deadline=None, derandomize=True)
@given(st.text(max_size=40), st.sampled_from(list(Action)), st.sampled_from([*Purpose, None]))
def test_weird_identities_are_denied(role, action, purpose):
    if role in set(Role):
        return
    assert not ENGINE.decide(frozenset({role}), action, purpose).allowed


def test_admin_never_gets_customer_data_alone_or_with_another_role():
    for other in Role:
        for d in every_cell(ENGINE, [[Role.ADMIN, other]]):
            assert not d.allowed, (other, d.action, d.purpose)


def test_deny_wins_over_allow_of_another_role():
    both = ENGINE.decide(frozenset({Role.ADMIN, Role.SALES_REP}), Action.CUSTOMER_READ, Purpose.SALES_FOLLOWUP)
    assert (both.allowed, both.outcome) == (False, Outcome.DENIED_BY_RULE)
    assert both.matched_rule == ("admin", "*", "customer.read", "*", "none", "deny")
    assert "never customer data" in both.reason


def test_deny_wins_within_one_role(tmp_path):
    d = copy_policies(tmp_path)
    append(d / "deny.csv", "p, sales_rep, sales_followup, customer.read, standard, none, deny\n")
    engine = PolicyEngine(d)
    decision = engine.decide(frozenset({Role.SALES_REP}), Action.CUSTOMER_READ, Purpose.SALES_FOLLOWUP)
    assert decision.outcome is Outcome.DENIED_BY_RULE
    assert engine.explain(Role.SALES_REP, Action.CUSTOMER_READ, Purpose.SALES_FOLLOWUP)[0] is False


def test_compliance_reads_content_only_through_break_glass():
    roles = frozenset({Role.COMPLIANCE_OFFICER})
    for action in READS:
        plain = ENGINE.decide(roles, action, Purpose.AUDIT)
        assert not plain.allowed and plain.outcome is Outcome.DENIED_BY_RULE, action
    for action in (Action.CUSTOMER_READ, Action.DOCUMENT_CONTENT_READ):
        glass = ENGINE.decide(roles, action, Purpose.AUDIT, break_glass=True)
        assert glass.allowed and glass.scopes == {Scope.BREAK_GLASS}
    assert not ENGINE.decide(roles, Action.CUSTOMER_LIST, Purpose.AUDIT, break_glass=True).allowed
    assert not ENGINE.decide(roles, Action.CUSTOMER_UPDATE, Purpose.AUDIT, break_glass=True).allowed


def test_break_glass_is_nothing_to_other_roles():
    for role in STAFF:
        if role is Role.COMPLIANCE_OFFICER:
            continue
        for d in every_cell(ENGINE, [[role]], break_glass=(True,)):
            assert not d.allowed, (role, d.action, d.purpose)


def test_archivist_never_reads_content():
    for d in every_cell(ENGINE, [[Role.ARCHIVIST, r] for r in Role]):
        if d.action is Action.DOCUMENT_CONTENT_READ:
            assert not d.allowed


def test_customer_purpose_is_implied_and_scope_is_self():
    d = ENGINE.decide(frozenset({Role.CUSTOMER}), Action.CUSTOMER_READ, None)
    assert d.allowed and d.purpose is Purpose.DATA_SUBJECT_REQUEST and d.implied_purpose
    assert d.scopes == {Scope.SELF} and not d.could_borrow
    other = ENGINE.decide(frozenset({Role.CUSTOMER}), Action.CUSTOMER_READ, Purpose.SALES_FOLLOWUP)
    assert other.outcome is Outcome.PURPOSE_NOT_PERMITTED
    assert not ENGINE.decide(frozenset({Role.CUSTOMER}), Action.CUSTOMER_LIST, None).allowed


def test_staff_without_purpose_is_told_to_state_one():
    d = ENGINE.decide(frozenset({Role.SALES_REP}), Action.CUSTOMER_READ, None)
    assert d.outcome is Outcome.PURPOSE_MISSING and "X-Purpose" in d.reason
    assert ENGINE.usable_purposes([Role.SALES_REP]) == (Purpose.CUSTOMER_SERVICE, Purpose.SALES_FOLLOWUP,
                                                        Purpose.ADVISORY)


def test_purpose_that_does_not_fit_the_action():
    d = ENGINE.decide(frozenset({Role.MARKETING}), Action.CUSTOMER_READ, Purpose.JOINT_MARKETING)
    assert d.outcome is Outcome.ACTION_NOT_PERMITTED
    assert ENGINE.decide(frozenset({Role.MARKETING}), Action.JOINT_LIST_READ, Purpose.JOINT_MARKETING).allowed


def test_department_head_inherits_own_customer_rules():
    d = ENGINE.decide(frozenset({Role.DEPARTMENT_HEAD}), Action.CUSTOMER_READ, Purpose.SALES_FOLLOWUP)
    assert d.scopes == {Scope.OWN, Scope.DEPARTMENT, Scope.LOAN} and d.scope is Scope.DEPARTMENT
    advisory = ENGINE.decide(frozenset({Role.DEPARTMENT_HEAD}), Action.CUSTOMER_READ, Purpose.ADVISORY)
    assert advisory.scopes == {Scope.OWN, Scope.LOAN}


def test_two_roles_reach_the_union_of_their_scopes():
    d = ENGINE.decide(frozenset({Role.SALES_REP, Role.CUSTOMER_SERVICE}), Action.CUSTOMER_READ,
                      Purpose.CUSTOMER_SERVICE)
    assert Scope.ALL in d.scopes and Scope.OWN in d.scopes and d.scope is Scope.ALL


def test_decisions_are_cached_and_carry_the_version():
    roles = frozenset({Role.FINANCE})
    first = ENGINE.decide(roles, Action.CUSTOMER_READ, Purpose.CREDIT_REVIEW)
    assert ENGINE.decide(roles, Action.CUSTOMER_READ, Purpose.CREDIT_REVIEW) is first
    assert ENGINE.decide(frozenset({"finance"}), Action.CUSTOMER_READ, Purpose.CREDIT_REVIEW) is first
    assert first.policy_version == ENGINE.version and len(first.policy_version) == 12
    assert first.rule_text == "p, finance, credit_review, customer.read, standard, all, allow"


def test_reload_changes_decisions_and_version(tmp_path):
    d = copy_policies(tmp_path)
    engine = PolicyEngine(d)
    roles = frozenset({Role.GENERAL_MANAGER})
    before = engine.version
    assert not engine.decide(roles, Action.CUSTOMER_READ, Purpose.REPORTING).allowed
    append(d / "allow.csv", "p, general_manager, reporting, customer.list, standard, aggregates, allow\n")
    assert engine.reload() != before
    after = engine.decide(roles, Action.CUSTOMER_LIST, Purpose.REPORTING)
    assert after.allowed and after.policy_version == engine.version


def test_failed_reload_keeps_the_policy_in_force(tmp_path):
    d = copy_policies(tmp_path)
    engine = PolicyEngine(d)
    version = engine.version
    replace(d / "allow.csv", "sales_followup, customer.read, standard, own, allow",
            "sales_followup, customer.read, standard, own, permit")
    with pytest.raises(PolicyError, match="neither allow nor deny"):
        engine.reload()
    assert engine.version == version
    assert engine.decide(frozenset({Role.SALES_REP}), Action.CUSTOMER_READ, Purpose.SALES_FOLLOWUP).allowed


def test_reload_under_load_gives_only_decisions_of_one_version_or_the_other(tmp_path):
    a = copy_policies(tmp_path / "a")
    b = copy_policies(tmp_path / "b")
    replace(b / "allow.csv", "p, sales_rep, sales_followup, customer.read, standard, own, allow\n", "")
    engine = PolicyEngine(a)
    outcomes = {PolicyEngine(a).version: True, PolicyEngine(b).version: False}
    roles, seen, errors, stop = frozenset({Role.SALES_REP}), [], [], threading.Event()

    def decide():
        try:
            while not stop.is_set():
                d = engine.decide(roles, Action.CUSTOMER_READ, Purpose.SALES_FOLLOWUP)
                seen.append(d.allowed == outcomes[d.policy_version])
                time.sleep(0)  # let the reloading thread run
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=decide) for _ in range(3)]
    for t in threads:
        t.start()
    for i in range(12):
        engine.reload(b if i % 2 == 0 else a)
    stop.set()
    for t in threads:
        t.join()
    assert not errors and seen and all(seen)
