"""`archive policy check`: everything wrong with a policy directory, as a list of problems.

On top of what stops a load (files.py): names the vocabulary does not know, rules that can
never take effect, purposes no role may use, and vocabulary values no policy uses."""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from archive.policy.engine import default_policy_dir
from archive.policy.fields import FieldSpec, KindSpec
from archive.policy.files import (
    ANY,
    DOCUMENT_KINDS_FILE,
    FIELDS_FILE,
    PERMISSIONS,
    PURPOSES_FILE,
    Problem,
    Row,
    Severity,
    inheritance,
    read_yaml,
)
from archive.policy.masking import MASKS
from archive.policy.parsed import parse_policy_dir
from archive.policy.purposes import Purposes
from archive.vocabulary import (
    DOCUMENT_KINDS,
    Action,
    DataCategory,
    DocumentFile,
    DocumentKind,
    Effect,
    FieldGroup,
    Permission,
    Purpose,
    Role,
    Scope,
    Via,
)

CONTRACT_DOSSIER_FILE = "contract_dossier.yaml"
ROLES = frozenset(Role)


def check_policies(directory: Path | str) -> list[Problem]:
    """All problems of the policy files in `directory`; an empty list means it is sound."""
    directory = Path(directory)
    parsed = parse_policy_dir(directory)
    problems, rows, purposes, fields, kinds = (parsed.problems, parsed.rows, parsed.purposes, parsed.fields,
                                               parsed.kinds)
    problems += _roles(rows, purposes)
    problems += _rules(rows, purposes)
    problems += _purposes(rows, purposes, fields)
    problems += _unused(rows, purposes, fields, kinds)
    problems += _dossier(directory, problems)
    return problems


def _err(row: Row, message: str, severity: Severity = Severity.ERROR) -> Problem:
    return Problem(row.file, row.line, message, severity)


def _roles(rows: list[Row], purposes: Purposes) -> list[Problem]:
    problems = []
    for row in rows:
        names = row.values if row.ptype == "g" else row.values[:1]
        problems += [_err(row, f"unknown role {name!r}") for name in names if name not in ROLES]
        if row.ptype == "g" and row.values[0] == row.values[1]:
            problems.append(_err(row, "a role cannot inherit from itself"))
    closures = inheritance(rows)
    for row in rows:
        child, parent = row.values if row.ptype == "g" else ("", "")
        if row.ptype == "g" and child != parent and child in closures.get(parent, ()):
            problems.append(_err(row, f"inheritance cycle between {child} and {parent}"))
    for spec in purposes.specs.values():
        for role in sorted((spec.roles | spec.implied_for) - ROLES):
            problems.append(Problem(PURPOSES_FILE, None, f"{spec.purpose}: unknown role {role!r}"))
    for text, count in Counter(r.text for r in rows).items():
        if count > 1:
            problems.append(Problem(rows[0].file, None, f"duplicate rule {text!r}", Severity.WARNING))
    return problems


def _rules(rows: list[Row], purposes: Purposes) -> list[Problem]:
    """Allow rules that can never take effect, and rules whose columns contradict each other."""
    closures = inheritance(rows)
    denies = [r for r in rows if r.ptype == "p" and r.values[5] == Effect.DENY]
    problems = []
    for row in rows:
        if row.ptype != "p":
            continue
        sub, pur, act, via, scope, eft = row.values
        if act in PERMISSIONS:  # files.py checked its shape; no purpose or scope to weigh
            held = _deny_for(denies, closures.get(sub, {sub}), pur, act, via) if eft == Effect.ALLOW else None
            if held is not None:
                problems.append(_err(row, f"never takes effect: overridden by the deny at {held.file}:{held.line}"))
            continue
        if eft == Effect.DENY:
            if scope != Scope.NONE:
                problems.append(_err(row, "a deny rule reaches nothing: write its scope as none", Severity.WARNING))
            continue
        if (via == Via.BREAK_GLASS) != (scope == Scope.BREAK_GLASS):
            problems.append(_err(row, "scope break_glass goes with via break_glass, and only with it"))
        if scope == Scope.NONE:
            problems.append(_err(row, "an allow rule with scope none reaches no customer"))
        spec = purposes.specs.get(Purpose(pur))
        # the roles a user may hold that carry this rule and may state its purpose
        users = [u for u in ROLES if sub in closures.get(u, {u}) and spec and spec.roles & closures.get(u, {u})]
        if sub in ROLES and not users:
            problems.append(_err(row, f"can never match: no role holding {sub} may use the purpose {pur}"))
        overrides = [_deny_for(denies, closures.get(u, {u}), pur, act, via) for u in users]
        first = overrides[0] if overrides else None
        if first is not None and all(overrides):
            problems.append(_err(row, f"never takes effect: overridden by the deny at {first.file}:{first.line}"))
    return problems


def _deny_for(denies: list[Row], roles: Iterable[str], pur: str, act: str, via: str) -> Row | None:
    return next((d for d in denies if _covers(d, roles, pur, act, via)), None)


def _covers(deny: Row, roles: Iterable[str], pur: str, act: str, via: str) -> bool:
    sub, d_pur, d_act, d_via = deny.values[:4]
    return sub in set(roles) and d_pur in (pur, ANY) and d_act == act and d_via in (via, ANY)


def _purposes(rows: list[Row], purposes: Purposes, fields: dict[str, FieldSpec]) -> list[Problem]:
    closures = inheritance(rows)
    allows = [r for r in rows if r.ptype == "p" and r.values[5] == Effect.ALLOW]
    problems = []
    for purpose in Purpose:
        spec = purposes.specs.get(purpose)
        if spec is None:
            problems.append(Problem(PURPOSES_FILE, None, f"purpose {purpose} has no entry"))
            continue
        if not spec.roles and not spec.reserved:
            problems.append(Problem(PURPOSES_FILE, None, f"no role may use the purpose {purpose} "
                                                         "(list roles, or mark it reserved with the reason)"))
        if spec.reserved and spec.roles:
            problems.append(Problem(PURPOSES_FILE, None, f"{purpose} is reserved but lists roles", Severity.WARNING))
        for role in sorted(spec.roles & ROLES):
            closure = closures.get(role, {role})
            if not any(r.values[0] in closure and r.values[1] == purpose for r in allows):
                problems.append(Problem(PURPOSES_FILE, None,
                                        f"{purpose}: {role} may use it but no rule grants {role} any action with it"))
        problems += [Problem(PURPOSES_FILE, None, f"{purpose}: unknown field {name!r}")
                     for name in sorted(set(spec.fields) - set(fields))]
    return problems


def _unused(rows: list[Row], purposes: Purposes, fields: dict[str, FieldSpec],
            kinds: dict[DocumentKind, KindSpec]) -> list[Problem]:
    """Vocabulary values no policy uses, and the document-kind table against the vocabulary."""
    allows = [r.values for r in rows if r.ptype == "p" and r.values[5] == Effect.ALLOW]
    specs = purposes.specs.values()
    loans = purposes.loan_actions and any(s.borrowable for s in specs)
    used: dict[str, set[str]] = {
        "role": {v for r in rows for v in (r.values if r.ptype == "g" else r.values[:1])}
        | {role for s in specs for role in s.roles | s.implied_for},
        "purpose": {v[1] for v in allows} | {s.purpose for s in specs if s.reserved},
        "action": {v[2] for v in allows},
        "permission": {v[2] for v in allows},
        "via": {v[3] for v in allows},
        "scope": {r.values[4] for r in rows if r.ptype == "p"} | ({Scope.LOAN.value} if loans else set()),
        "category": {f.category.value for f in fields.values()} | {k.category.value for k in kinds.values()},
        "group": {f.section for f in fields.values()} | {k.group.value for k in kinds.values() if k.group},
        "document file": {k.file.value for k in kinds.values()},
        "document kind": {k.kind.value for k in kinds.values()},
        "mask": {f.mask for f in fields.values() if f.mask},
    }
    vocab: dict[str, Iterable[str]] = {
        "role": Role, "purpose": Purpose, "action": Action, "permission": Permission, "via": Via, "scope": Scope,
        "category": DataCategory, "group": FieldGroup, "document file": DocumentFile, "document kind": DocumentKind,
        "mask": MASKS,
    }
    problems = [Problem(_FILE_OF[what], None, f"{what} {str(value)!r} is used by no policy")
                for what, values in vocab.items() for value in values if value not in used[what]]
    if not any(v[2] not in PERMISSIONS for v in allows):
        problems.append(Problem("*.csv", None, "the policy has no allow rules on customer data: every request "
                                               "for it is denied"))
    for kind, spec in kinds.items():
        expected = DOCUMENT_KINDS.get(kind)
        if expected != (spec.file, spec.category, spec.group):
            problems.append(Problem(DOCUMENT_KINDS_FILE, None, f"{kind}: differs from the vocabulary's {expected}"))
    return problems


_FILE_OF = {"role": "*.csv", "purpose": PURPOSES_FILE, "action": "*.csv", "permission": "*.csv", "via": "*.csv",
            "scope": "*.csv", "category": FIELDS_FILE, "group": FIELDS_FILE, "document file": DOCUMENT_KINDS_FILE,
            "document kind": DOCUMENT_KINDS_FILE, "mask": FIELDS_FILE}


def _dossier(directory: Path, problems: list[Problem]) -> list[Problem]:
    path = directory / CONTRACT_DOSSIER_FILE
    if not path.is_file():
        return []
    data = read_yaml(path, problems)
    named = [k for key in ("required", "required_when_performed") for k in data.get(key) or []]
    return [Problem(CONTRACT_DOSSIER_FILE, None, f"unknown document kind {k!r}") for k in named
            if k not in DocumentKind.__members__.values()]


def main(argv: list[str] | None = None) -> int:
    """`python -m archive.policy [DIR]`: print the problems; exit 1 on any error."""
    args = sys.argv[1:] if argv is None else argv
    problems = check_policies(Path(args[0]) if args else default_policy_dir())
    for problem in problems:
        print(problem)
    errors = sum(p.severity is Severity.ERROR for p in problems)
    print(f"{len(problems)} problem(s), {errors} error(s)")
    return 1 if errors else 0
