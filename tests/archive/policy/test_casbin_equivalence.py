"""The engine's own index decides exactly as pycasbin's `enforce_ex` on the same files — the
decision and the matched rule — for every role x purpose x action x via; and the casbin traps
the model avoids are real."""

from __future__ import annotations

import itertools

import casbin
from casbin.util import key_match

from archive.policy import Outcome, PolicyEngine
from archive.policy.engine import load_enforcer
from archive.vocabulary import Action, Permission, Purpose, Role, Via

ENGINE = PolicyEngine()


def test_every_single_role_cell_matches_enforce_ex():
    cells = 0
    for role, purpose, action, via in itertools.product(Role, Purpose, Action, Via):
        ours = ENGINE.decide(frozenset({role}), action, purpose, break_glass=via is Via.BREAK_GLASS)
        allowed, rule = ENGINE.explain(role, action, purpose, via)
        assert ours.allowed == allowed, (role, purpose, action, via)
        if ours.allowed or ours.outcome is Outcome.DENIED_BY_RULE:
            assert list(ours.matched_rule) == rule, (role, purpose, action, via)
        cells += 1
    assert cells == len(Role) * len(Purpose) * len(Action) * len(Via)


def test_role_pairs_match_casbin_with_a_user_holding_both():
    """Deny of one role against allow of the other, and the union of scopes (purposes either
    role may use, plus one neither may)."""
    enforcer = load_enforcer(ENGINE.path, ENGINE.rows)
    cells = []
    for first, second in itertools.combinations(Role, 2):
        user = f"user_{first}_{second}"
        enforcer.add_grouping_policy(user, first)
        enforcer.add_grouping_policy(user, second)
        purposes = {*ENGINE.usable_purposes([first, second]), Purpose.PARTNER_SHARING}
        cells += [(first, second, user, p, a) for p, a in itertools.product(sorted(purposes), Action)]
    for first, second, user, purpose, action in cells:
        ours = ENGINE.decide(frozenset({first, second}), action, purpose)
        theirs, rule = enforcer.enforce_ex(user, purpose, action, "standard")
        assert ours.allowed == theirs, (first, second, purpose, action)
        if ours.allowed or ours.outcome is Outcome.DENIED_BY_RULE:
            assert list(ours.matched_rule) == rule


def test_key_match_is_a_prefix_match_which_is_why_the_model_has_none():
    assert key_match("/customers_admin", "/customers*")
    matcher = next(line for line in (ENGINE.path / "model.conf").read_text().splitlines() if line.startswith("m ="))
    assert "Match(" not in matcher and "eval(" not in matcher


def test_deny_override_alone_would_allow_by_default(tmp_path):
    model = (ENGINE.path / "model.conf").read_text().replace(
        "e = some(where (p.eft == allow)) && !some(where (p.eft == deny))", "e = !some(where (p.eft == deny))")
    (tmp_path / "model.conf").write_text(model)
    (tmp_path / "p.csv").write_text("p, admin, *, customer.read, *, none, deny\n")
    loose = casbin.Enforcer(str(tmp_path / "model.conf"), str(tmp_path / "p.csv"))
    assert loose.enforce("marketing", "credit_review", "customer.read", "standard")  # the trap
    assert not ENGINE.enforcer.enforce("marketing", "credit_review", "customer.read", "standard")


def test_every_permission_matches_enforce_ex():
    for role, permission in itertools.product(Role, Permission):
        ours = ENGINE.permission(frozenset({role}), permission)
        allowed, rule = ENGINE.explain_permission(role, permission)
        assert ours.allowed == allowed, (role, permission)
        assert list(ours.matched_rule) == rule, (role, permission)


def test_permissions_of_role_pairs_match_casbin_and_a_deny_wins(tmp_path):
    import shutil

    shutil.copytree(ENGINE.path, tmp_path / "policies")
    with (tmp_path / "policies" / "deny.csv").open("a") as f:
        f.write("p, finance, *, user.manage, *, none, deny\n")
    engine = PolicyEngine(tmp_path / "policies")
    enforcer = load_enforcer(engine.path, engine.rows)
    for first, second in itertools.combinations(Role, 2):
        user = f"user_{first}_{second}"
        enforcer.add_grouping_policy(user, first)
        enforcer.add_grouping_policy(user, second)
        for permission in Permission:
            ours = engine.permission(frozenset({first, second}), permission)
            theirs, rule = enforcer.enforce_ex(user, "", permission, "")
            assert ours.allowed == theirs, (first, second, permission)
            assert list(ours.matched_rule) == rule, (first, second, permission)
    assert not engine.may({Role.ADMIN, Role.FINANCE}, Permission.USER_MANAGE)
