"""Reading `policies/`: the model, the rule CSVs with their provenance, the YAML files, and the
policy version. Structural errors (a rule the engine could misread) are `Problem`s that stop a
load; `check.py` adds the coverage and consistency problems on top."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import yaml

from archive.vocabulary import Action, Effect, Permission, Purpose, Scope, Via

MODEL_FILE = "model.conf"
PURPOSES_FILE = "purposes.yaml"
FIELDS_FILE = "fields.yaml"
DOCUMENT_KINDS_FILE = "document_kinds.yaml"
YAML_FILES = (PURPOSES_FILE, FIELDS_FILE, DOCUMENT_KINDS_FILE)
ANY = "*"  # the one wildcard: purpose or via of a deny rule

# The model the engine implements. The engine indexes rules itself (O(1) per decision), so it
# refuses a model.conf whose semantics differ from these lines.
EXPECTED_MODEL = {
    ("request_definition", "r"): "sub, pur, act, via",
    ("policy_definition", "p"): "sub, pur, act, via, scope, eft",
    ("role_definition", "g"): "_, _",
    ("policy_effect", "e"): "some(where (p.eft == allow)) && !some(where (p.eft == deny))",
    ("matchers", "m"): 'r.sub != "" && g(r.sub, p.sub) && (p.pur == r.pur || p.pur == "*") && p.act == r.act'
    ' && (p.via == r.via || p.via == "*")',
}
_TOKEN = re.compile(r"[a-z0-9_.]+|\*")
PURPOSES = frozenset(Purpose)
ACTIONS = frozenset(Action)
PERMISSIONS = frozenset(Permission)
SCOPES = frozenset(Scope)
VIAS = frozenset(Via)


class Severity(StrEnum):
    ERROR = "error"
    WARNING = "warning"


@dataclass(frozen=True, slots=True)
class Problem:
    file: str
    line: int | None
    message: str
    severity: Severity = Severity.ERROR

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.severity}: {self.message}"


class PolicyError(Exception):
    """The policy directory cannot be loaded; the previous policy (if any) stays in force."""

    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(str(p) for p in problems))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class Row:
    """One `p` or `g` line with where it came from and the comment above it (its reason)."""

    file: str
    line: int
    ptype: str
    values: tuple[str, ...]
    note: str = ""

    @property
    def text(self) -> str:
        return ", ".join((self.ptype, *self.values))


def csv_files(directory: Path) -> list[Path]:
    return sorted(directory.glob("*.csv"))


def engine_files(directory: Path) -> list[Path]:
    """Every file the engine reads, in a fixed order (the version hashes these)."""
    return [directory / MODEL_FILE, *csv_files(directory), *(directory / name for name in YAML_FILES)]


def policy_version(directory: Path) -> str:
    """Short SHA-256 over the names and bytes of the files the engine reads."""
    digest = hashlib.sha256()
    for path in engine_files(directory):
        digest.update(path.name.encode() + b"\0")
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
        digest.update(b"\0")
    return digest.hexdigest()[:12]


def read_yaml(path: Path, problems: list[Problem]) -> dict[str, Any]:
    if not path.is_file():
        problems.append(Problem(path.name, None, "file is missing"))
        return {}
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        problems.append(Problem(path.name, None, f"not valid YAML: {exc}"))
        return {}
    if data is None:
        return {}
    if not isinstance(data, dict):
        problems.append(Problem(path.name, None, "must be a mapping at the top level"))
        return {}
    return data


def lint_model(path: Path) -> list[Problem]:
    """The model must be exactly the one the engine implements (no keyMatch, no eval, the
    allow-and-deny effect, the empty-subject guard)."""
    if not path.is_file():
        return [Problem(MODEL_FILE, None, "file is missing")]
    sections: dict[tuple[str, str], str] = {}
    section = ""
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        key, sep, value = line.partition("=")
        if sep and section:
            sections[(section, key.strip())] = " ".join(value.split())
    problems = []
    for (sec, key), expected in EXPECTED_MODEL.items():
        got = sections.pop((sec, key), None)
        if got != expected:
            message = f"[{sec}] {key} = {got!r}; the engine implements exactly {expected!r}"
            problems.append(Problem(MODEL_FILE, None, message))
    problems += [Problem(MODEL_FILE, None, f"unexpected definition [{sec}] {key}") for sec, key in sections]
    return problems


def read_rows(directory: Path) -> tuple[list[Row], list[Problem]]:
    """All `p` and `g` rows of the CSV files, checked for what would make the engine misread them."""
    rows: list[Row] = []
    problems: list[Problem] = []
    for path in csv_files(directory):
        note = ""
        for number, raw in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            line = raw.strip()
            if not line:
                note = ""
                continue
            if line.startswith("#"):
                note = line.lstrip("#").strip()
                continue
            ptype, *values = (token.strip() for token in line.split(","))
            row = Row(path.name, number, ptype, tuple(values), note)
            found = _row_problems(row)
            problems += found
            if not found:
                rows.append(row)
    return rows, problems


def _row_problems(row: Row) -> list[Problem]:
    def problem(message: str) -> list[Problem]:
        return [Problem(row.file, row.line, message)]

    expected = {"p": 6, "g": 2}.get(row.ptype)
    if expected is None:
        return problem(f"unknown rule type {row.ptype!r} (p or g)")
    if len(row.values) != expected:
        return problem(f"{row.ptype} rule has {len(row.values)} values, expected {expected}")
    bad = [v for v in row.values if not _TOKEN.fullmatch(v)]
    if bad:
        return problem(f"values must be lower-case ids (a-z, 0-9, _ and .): {bad!r}")
    if row.ptype == "g":
        return problem("a role cannot inherit the wildcard") if ANY in row.values else []
    sub, pur, act, via, scope, eft = row.values
    if eft not in (Effect.ALLOW, Effect.DENY):
        return problem(f"effect {eft!r} is neither allow nor deny")
    if act in PERMISSIONS:  # held whatever the purpose; reaches no customer by itself
        checks = [
            (sub != ANY, "the subject is never a wildcard"),
            (pur == ANY and via == ANY, f"the permission {act} holds whatever the purpose: write purpose and via as *"),
            (scope == Scope.NONE, f"the permission {act} reaches no customer: write its scope as none"),
        ]
        return [Problem(row.file, row.line, m) for ok, m in checks if not ok]
    checks = [
        (sub != ANY, "the subject is never a wildcard"),
        (pur in PURPOSES or pur == ANY, f"unknown purpose {pur!r}"),
        (act in ACTIONS, f"unknown action {act!r}"),
        (via in VIAS or via == ANY, f"unknown via {via!r}"),
        (scope in SCOPES, f"unknown scope {scope!r}"),
        (eft == Effect.DENY or ANY not in (pur, via), "'*' is accepted in deny rules only"),
    ]
    messages = [message for ok, message in checks if not ok]
    return [Problem(row.file, row.line, m) for m in messages]


def inheritance(rows: list[Row] | tuple[Row, ...]) -> dict[str, frozenset[str]]:
    """Role -> itself and every role it inherits from (`g` rows), for roles that inherit."""
    parents: dict[str, set[str]] = {}
    for row in rows:
        if row.ptype == "g":
            parents.setdefault(row.values[0], set()).add(row.values[1])
    closures = {}
    for role in parents:
        seen, todo = {role}, [role]
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in seen:
                    seen.add(parent)
                    todo.append(parent)
        closures[role] = frozenset(seen)
    return closures
