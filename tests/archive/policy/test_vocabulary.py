"""Vocabulary <-> policy files (STYLE.md item 11): the shipped files name only known values, and
every vocabulary value is used by some policy."""

from __future__ import annotations

import yaml

from archive.policy import Severity, check_policies, default_policy_dir
from archive.vocabulary import DOCUMENT_KINDS, Action, DocumentKind, Permission, Purpose, Role
from tests.archive.policy.policyfiles import append, copy_policies, replace


def test_shipped_policy_has_no_problem():
    problems = check_policies(default_policy_dir())
    assert [str(p) for p in problems] == []


def test_unknown_role_in_a_rule_file_is_named(tmp_path):
    d = copy_policies(tmp_path)
    append(d / "allow.csv", "p, sales_manager, sales_followup, customer.read, standard, own, allow\n")
    messages = [str(p) for p in check_policies(d)]
    assert any("allow.csv" in m and "unknown role 'sales_manager'" in m for m in messages)


def test_unknown_purpose_action_and_scope_are_named(tmp_path):
    d = copy_policies(tmp_path)
    append(d / "allow.csv", "p, sales_rep, gossip, customer.read, standard, own, allow\n"
                            "p, sales_rep, advisory, customer.delete, standard, own, allow\n"
                            "p, sales_rep, advisory, customer.read, standard, everyone, allow\n")
    messages = " | ".join(str(p) for p in check_policies(d))
    assert "unknown purpose 'gossip'" in messages
    assert "unknown action 'customer.delete'" in messages
    assert "unknown scope 'everyone'" in messages


def test_unknown_category_in_fields_is_named(tmp_path):
    d = copy_policies(tmp_path)
    replace(d / "fields.yaml", "savings:         {category: investment", "savings:         {category: pension")
    assert any("'pension'" in str(p) for p in check_policies(d))


def test_a_vocabulary_value_used_by_no_policy_is_named(tmp_path):
    d = copy_policies(tmp_path)
    for name in ("allow.csv", "deny.csv"):
        path = d / name
        path.write_text("".join(line + "\n" for line in path.read_text().splitlines()
                                if "report.read" not in line))
    messages = [str(p) for p in check_policies(d)]
    assert "*.csv: error: action 'report.read' is used by no policy" in messages


def test_every_role_purpose_and_action_appears_in_the_files():
    d = default_policy_dir()
    text = "".join(p.read_text() for p in sorted(d.glob("*.csv"))) + (d / "purposes.yaml").read_text()
    for value in [*Role, *Purpose, *Action, *Permission]:
        assert value.value in text, value


def test_document_kind_table_matches_the_vocabulary():
    data = yaml.safe_load((default_policy_dir() / "document_kinds.yaml").read_text())["kinds"]
    assert set(data) == {k.value for k in DocumentKind}
    for kind, entry in data.items():
        file, category, group = DOCUMENT_KINDS[DocumentKind(kind)]
        assert (entry["file"], entry["category"], entry.get("group")) == (file, category, group and group.value)


def test_a_changed_document_kind_is_named(tmp_path):
    d = copy_policies(tmp_path)
    replace(d / "document_kinds.yaml", "visit_report:               {file: service, category: basic}",
            "visit_report:               {file: service, category: credit}")
    assert any("visit_report: differs" in str(p) for p in check_policies(d))


def test_shipped_policy_has_no_warning_either():
    assert [p for p in check_policies(default_policy_dir()) if p.severity is Severity.WARNING] == []
