"""`check_policies` (for `archive policy check`) on seeded bad files."""

from __future__ import annotations

import pytest

from archive.policy import PolicyEngine, PolicyError, Severity, check_policies
from tests.archive.policy.policyfiles import append, copy_policies, replace


def errors(d):
    return [str(p) for p in check_policies(d) if p.severity is Severity.ERROR]


def test_unknown_role_and_purpose_with_no_role(tmp_path):
    d = copy_policies(tmp_path)
    append(d / "allow.csv", "p, intern, customer_service, customer.read, standard, own, allow\n")
    replace(d / "purposes.yaml", "roles: [finance]\n", "roles: []\n")  # register_review: nobody
    found = errors(d)
    assert any("allow.csv" in e and "unknown role 'intern'" in e for e in found)
    assert any("no role may use the purpose register_review" in e for e in found)
    # finance's register_review rules now can never match
    assert any("can never match: no role holding finance may use the purpose register_review" in e for e in found)


def test_rule_for_a_purpose_the_role_may_not_use_can_never_match(tmp_path):
    d = copy_policies(tmp_path)
    append(d / "allow.csv", "p, marketing, credit_review, customer.read, standard, all, allow\n")
    assert any("can never match" in e and "marketing" in e for e in errors(d))


def test_allow_rule_always_overridden_by_a_deny(tmp_path):
    d = copy_policies(tmp_path)
    replace(d / "purposes.yaml", "roles: [archivist]", "roles: [archivist, admin]")
    append(d / "allow.csv", "p, admin, archive_maintenance, customer.read, standard, metadata, allow\n")
    assert any("never takes effect: overridden by the deny at deny.csv" in e for e in errors(d))


def test_role_listed_for_a_purpose_without_any_rule(tmp_path):
    d = copy_policies(tmp_path)
    replace(d / "purposes.yaml", "roles: [marketing]", "roles: [marketing, general_manager]")
    assert any("joint_marketing: general_manager may use it but no rule grants" in e for e in errors(d))


def test_wildcards_prefixes_and_bad_effects_stop_the_load(tmp_path):
    d = copy_policies(tmp_path)
    append(d / "allow.csv", "p, sales_rep, *, customer.read, standard, all, allow\n"
                            "p, sales_rep, advisory, customer.*, standard, all, allow\n"
                            "p, sales_rep, advisory, customer.read, standard, all, Deny\n"
                            "p, sales_rep, advisory, customer.read, standard, all, denied\n"
                            "p, , advisory, customer.read, standard, all, allow\n")
    found = " | ".join(errors(d))
    assert "'*' is accepted in deny rules only" in found
    assert "customer.*" in found
    assert "['Deny']" in found
    assert "effect 'denied' is neither allow nor deny" in found
    assert "values must be lower-case ids" in found
    with pytest.raises(PolicyError):
        PolicyEngine(d)


def test_model_with_key_match_or_deny_override_alone_is_refused(tmp_path):
    d = copy_policies(tmp_path)
    replace(d / "model.conf", "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))",
            "e = !some(where (p.eft == deny))")
    replace(d / "model.conf", "p.act == r.act", "keyMatch(r.act, p.act)")
    found = errors(d)
    assert any("[policy_effect] e" in e for e in found)
    assert any("[matchers] m" in e for e in found)
    with pytest.raises(PolicyError):
        PolicyEngine(d)


def test_inheritance_cycle(tmp_path):
    d = copy_policies(tmp_path)
    append(d / "roles.csv", "g, sales_rep, department_head\n")
    assert any("inheritance cycle" in e for e in errors(d))


def test_break_glass_scope_only_with_break_glass_via(tmp_path):
    d = copy_policies(tmp_path)
    append(d / "allow.csv", "p, finance, credit_review, customer.read, standard, break_glass, allow\n")
    assert any("scope break_glass goes with via break_glass" in e for e in errors(d))


def test_empty_policy_is_reported(tmp_path):
    d = copy_policies(tmp_path)
    for name in ("allow.csv", "deny.csv", "roles.csv"):
        (d / name).write_text("")
    assert any("no allow rules" in e for e in errors(d))


def test_unknown_field_and_mask(tmp_path):
    d = copy_policies(tmp_path)
    replace(d / "purposes.yaml", "annual_volume: clear", "turnover: clear")
    replace(d / "fields.yaml", "mask: phone}", "mask: scramble}")
    found = " | ".join(errors(d))
    assert "grading: unknown field 'turnover'" in found
    assert "phone: unknown mask 'scramble'" in found


def test_a_permission_row_names_no_purpose_via_or_scope(tmp_path):
    d = copy_policies(tmp_path)
    append(d / "permissions.csv", "p, finance, credit_review, user.manage, *, none, allow\n"
                                  "p, finance, *, department.manage, *, all, allow\n"
                                  "p, finance, *, user.promote, *, none, allow\n")
    found = errors(d)
    assert any("permissions.csv" in e and "user.manage holds whatever the purpose" in e for e in found)
    assert any("department.manage reaches no customer: write its scope as none" in e for e in found)
    assert any("unknown action 'user.promote'" in e for e in found)


def test_a_permission_no_policy_grants_is_named_and_an_overridden_one_too(tmp_path):
    d = copy_policies(tmp_path)
    path = d / "permissions.csv"
    path.write_text("".join(line + "\n" for line in path.read_text().splitlines() if "policy.manage" not in line))
    append(d / "deny.csv", "p, general_manager, *, break_glass.review, *, none, deny\n")
    found = errors(d)
    assert "*.csv: error: permission 'policy.manage' is used by no policy" in found
    assert any("never takes effect: overridden by the deny at deny.csv" in e for e in found)
