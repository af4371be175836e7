"""The policy engine: loads `policies/`, decides (role set, action, purpose) once and caches it.

pycasbin stays the reference: the loaded `casbin.Enforcer` is built from the same files, and
`tests/archive/policy/test_casbin_equivalence.py` proves every decision and matched rule equal
to `enforce_ex`. Deciding does not call it, because its `enforce` scans every rule (cost grows
with the policy); the engine indexes the rows by (role, purpose, action, via) instead, so a
cold decision costs a few dict lookups whatever the policy's size, and a warm one is one.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import casbin
from casbin.persist import load_policy_line
from casbin.persist.adapter import Adapter

import archive
from archive.policy.decision import FieldPlan, Outcome, PermissionDecision, PurposeDecision
from archive.policy.fields import Catalogue, admitted_kinds, categories_of, plan_fields
from archive.policy.files import (
    ANY,
    MODEL_FILE,
    PERMISSIONS,
    PolicyError,
    Problem,
    Row,
    inheritance,
    policy_version,
)
from archive.policy.parsed import parse_policy_dir
from archive.policy.purposes import Admission, Purposes, PurposeSpec
from archive.vocabulary import Action, DocumentKind, Effect, Permission, Purpose, Role, Scope, Via

CACHE_LIMIT = 8192  # distinct (role set, action, purpose, via) keys; cleared when reached

# pycasbin logs the whole model and policy at INFO each time an enforcer is built (every reload,
# in every worker); the engine reports loads itself, so keep only its warnings.
logging.getLogger("casbin").setLevel(logging.WARNING)


def default_policy_dir() -> Path:
    """`policies/` next to the `archive` package (the repository root)."""
    return Path(archive.__file__).resolve().parent.parent / "policies"


class _RowsAdapter(Adapter):  # type: ignore[misc]
    """Feeds the validated rows to casbin exactly as its FileAdapter would."""

    def __init__(self, rows: Iterable[Row]) -> None:
        self.rows = list(rows)

    def load_policy(self, model: object) -> None:
        for row in self.rows:
            load_policy_line(row.text, model)


@dataclass(frozen=True, slots=True)
class _Match:
    index: int  # position in the enforcer's policy: casbin reports the last allow, the first deny
    values: tuple[str, ...]
    note: str


_Key = tuple[frozenset[str], Action, Purpose | None, bool]
_Plan = tuple[Mapping[str, FieldPlan], frozenset[DocumentKind], tuple[str, ...]]


@dataclass(slots=True)
class _State:
    """One loaded policy; replaced whole on reload, never mutated (except its cache)."""

    version: str
    enforcer: casbin.Enforcer | None = None
    rows: tuple[Row, ...] = ()
    index: Mapping[tuple[str, str, str, str], tuple[_Match, ...]] = field(default_factory=dict)
    inherits: Mapping[str, frozenset[str]] = field(default_factory=dict)  # role -> itself and ancestors
    purposes: Purposes = field(default_factory=lambda: Purposes(MappingProxyType({}), frozenset()))
    catalogue: Catalogue = field(default_factory=lambda: Catalogue({}, {}, {}))
    plans: Mapping[tuple[Purpose, bool], _Plan] = field(default_factory=dict)
    borrowers: frozenset[str] = frozenset()  # roles with a borrowable purpose
    has_rules: bool = False
    cache: dict[_Key, PurposeDecision] = field(default_factory=dict)

    def expand(self, roles: frozenset[str]) -> frozenset[str]:
        out: set[str] = set()
        for role in roles:
            out |= self.inherits.get(role, {role})
        return frozenset(out)


def load_enforcer(directory: Path, rows: Iterable[Row]) -> casbin.Enforcer:
    return casbin.Enforcer(str(directory / MODEL_FILE), _RowsAdapter(rows))


def _load(directory: Path) -> _State:
    version = policy_version(directory)
    parsed = parse_policy_dir(directory)
    if parsed.problems:
        raise PolicyError(parsed.problems)
    rows, purposes, fields, masks, kinds = parsed.rows, parsed.purposes, parsed.fields, parsed.masks, parsed.kinds
    enforcer = load_enforcer(directory, rows)
    if policy_version(directory) != version:  # the files changed while we read them
        raise PolicyError([Problem(directory.name, None, "policy files changed while loading; reload again")])
    catalogue = Catalogue(MappingProxyType(fields), MappingProxyType(masks), MappingProxyType(kinds))
    state = _State(version=version, enforcer=enforcer, rows=tuple(rows), purposes=purposes,
                   catalogue=catalogue)
    _compile(state, rows)
    return state


def _compile(state: _State, rows: list[Row]) -> None:
    assert state.enforcer is not None
    notes = {row.values: row.note for row in rows if row.ptype == "p"}
    index: dict[tuple[str, str, str, str], list[_Match]] = {}
    for i, values in enumerate(state.enforcer.get_policy()):
        sub, pur, act, via = values[:4]
        index.setdefault((sub, pur, act, via), []).append(_Match(i, tuple(values), notes.get(tuple(values), "")))
    state.index = MappingProxyType({k: tuple(v) for k, v in index.items()})
    state.has_rules = any(m.values[5] == Effect.ALLOW and m.values[2] not in PERMISSIONS
                          for ms in index.values() for m in ms)
    state.inherits = MappingProxyType(inheritance(rows))
    plans = {}
    for purpose, spec in state.purposes.specs.items():
        plans[(purpose, False)] = _plan(state.catalogue, spec, break_glass=False)
        plans[(purpose, True)] = _plan(state.catalogue, spec, break_glass=True)
    state.plans = MappingProxyType(plans)
    state.borrowers = frozenset(r for s in state.purposes.specs.values() if s.borrowable for r in s.roles)


def _plan(catalogue: Catalogue, spec: PurposeSpec, *, break_glass: bool) -> _Plan:
    """Field plan, admitted document kinds and categories of one purpose (computed at load)."""
    admits: Mapping[str, Admission] = (spec.break_glass_admits or {}) if break_glass else spec.admits
    extra: Mapping[str, Admission] = {} if break_glass else spec.fields
    files = None if break_glass else spec.document_files
    return (plan_fields(catalogue, admits, extra), admitted_kinds(catalogue, admits, files),
            categories_of(catalogue, admits, extra))


class PolicyEngine:
    """Decisions from the policy files. Thread-safe; `reload()` swaps the whole policy at once."""

    def __init__(self, path: Path | str | None = None) -> None:
        self._path = Path(path) if path is not None else default_policy_dir()
        self._lock = threading.Lock()
        self._state = _load(self._path)

    @classmethod
    def unloaded(cls) -> PolicyEngine:
        """An engine with no policy: it denies everything."""
        engine = cls.__new__(cls)
        engine._path = default_policy_dir()
        engine._lock = threading.Lock()
        engine._state = _State(version="unloaded")
        return engine

    @property
    def path(self) -> Path:
        return self._path

    @property
    def version(self) -> str:
        return self._state.version

    @property
    def enforcer(self) -> casbin.Enforcer | None:
        """The pycasbin enforcer over the same rows (the reference; not used to decide)."""
        return self._state.enforcer

    @property
    def rows(self) -> tuple[Row, ...]:
        return self._state.rows

    def reload(self, path: Path | str | None = None) -> str:
        """Load the files again (or another directory) and swap atomically; the cache goes with
        the old policy. On a PolicyError the current policy stays in force."""
        with self._lock:
            new_path = Path(path) if path is not None else self._path
            state = _load(new_path)
            self._path, self._state = new_path, state
            return state.version

    def clear_cache(self) -> None:
        self._state.cache.clear()

    def purpose_spec(self, purpose: Purpose) -> PurposeSpec | None:
        return self._state.purposes.specs.get(purpose)

    def usable_purposes(self, roles: Iterable[Role | str]) -> tuple[Purpose, ...]:
        """The purposes these roles may state (for the 400 that names them)."""
        state = self._state
        expanded = state.expand(_clean(roles))
        return tuple(p for p, s in state.purposes.specs.items() if s.roles & expanded)

    def could_borrow(self, roles: Iterable[Role | str]) -> bool:
        state = self._state
        return bool(state.expand(_clean(roles)) & state.borrowers)

    def decide(self, roles: frozenset[Role] | frozenset[str], action: Action, purpose: Purpose | None, *,
               break_glass: bool = False) -> PurposeDecision:
        """Decide once per (role set, action, purpose, break-glass); later calls are a dict lookup."""
        state = self._state
        key = (roles, action, purpose, break_glass)
        decision = state.cache.get(key)
        if decision is None:
            decision = _decide(state, _clean(roles), action, purpose, break_glass)
            if len(state.cache) >= CACHE_LIMIT:
                state.cache.clear()
            state.cache[key] = decision
        return decision

    def may(self, roles: Iterable[Role | str], permission: Permission) -> bool:
        """Whether these roles hold `permission` (policies/permissions.csv); a deny wins."""
        return self.permission(roles, permission).allowed

    def permission(self, roles: Iterable[Role | str], permission: Permission) -> PermissionDecision:
        """`may` as a value with its reason and matched rule, for the audit event of a refusal."""
        state = self._state
        held = _clean(roles)
        allows: list[_Match] = []
        denies: list[_Match] = []
        for role in state.expand(held):
            for match in state.index.get((role, ANY, permission, ANY), ()):
                (allows if match.values[5] == Effect.ALLOW else denies).append(match)
        if denies:
            first = min(denies, key=lambda m: m.index)
            reason = first.note or f"{permission} is denied to {first.values[0]}"
            return PermissionDecision(False, permission, held, reason, state.version, first.values)
        if not allows:
            named = ", ".join(sorted(held)) or "none"
            return PermissionDecision(False, permission, held, f"your role ({named}) does not hold {permission}",
                                      state.version)
        last = max(allows, key=lambda m: m.index)
        return PermissionDecision(True, permission, held, last.note or f"allowed by {', '.join(last.values)}",
                                  state.version, last.values)

    def explain_permission(self, role: Role | str, permission: Permission) -> tuple[bool, list[str]]:
        """pycasbin's own `enforce_ex` for one role and permission (the equivalence test)."""
        enforcer = self._state.enforcer
        if enforcer is None:
            return False, []
        allowed, rule = enforcer.enforce_ex(str(role), "", str(permission), "")
        return bool(allowed), list(rule)

    def explain(self, role: Role | str, action: Action, purpose: Purpose | None,
                via: Via = Via.STANDARD) -> tuple[bool, list[str]]:
        """pycasbin's own `enforce_ex` for one role (diagnostics and the equivalence test)."""
        enforcer = self._state.enforcer
        if enforcer is None:
            return False, []
        allowed, rule = enforcer.enforce_ex(str(role), str(purpose or ""), str(action), str(via))
        return bool(allowed), list(rule)


def _clean(roles: Iterable[Role | str]) -> frozenset[str]:
    """An empty or padded role never matches anything."""
    return frozenset(r for r in (str(x) for x in roles) if r and r == r.strip())


def _decide(state: _State, roles: frozenset[str], action: Action, purpose: Purpose | None,
            break_glass: bool) -> PurposeDecision:
    via = Via.BREAK_GLASS if break_glass else Via.STANDARD
    implied = False
    if purpose is None:
        purpose = next((p for p, s in state.purposes.specs.items() if s.implied_for & roles), None)
        implied = purpose is not None

    def deny(outcome: Outcome, reason: str, rule: tuple[str, ...] = ()) -> PurposeDecision:
        return PurposeDecision(False, outcome, reason, roles, action, purpose, via, state.version, rule,
                               implied_purpose=implied)

    if not state.has_rules:
        return deny(Outcome.NO_POLICY, "no access policy is loaded; every request is denied")
    if not roles:
        return deny(Outcome.NO_ROLE, "you have no role that may read customer data")
    if purpose is None:
        return deny(Outcome.PURPOSE_MISSING, "state the purpose of this request in the X-Purpose header")
    expanded = state.expand(roles)
    spec = state.purposes.specs.get(purpose)
    if spec is None or not spec.roles & expanded:
        return deny(Outcome.PURPOSE_NOT_PERMITTED,
                    f"your role ({', '.join(sorted(roles))}) may not use the purpose {purpose}")
    allows, denies = _matches(state, expanded, purpose, action, via)
    if denies:
        first = min(denies, key=lambda m: m.index)
        return deny(Outcome.DENIED_BY_RULE, first.note or f"{action} is denied to {first.values[0]}", first.values)
    if not allows:
        return deny(Outcome.ACTION_NOT_PERMITTED, f"the purpose {purpose} does not permit {action} for your role")
    last = max(allows, key=lambda m: m.index)
    scopes = {Scope(m.values[4]) for m in allows}
    if spec.borrowable and via is Via.STANDARD and action in state.purposes.loan_actions:
        scopes.add(Scope.LOAN)
    fields, kinds, categories = state.plans[(purpose, break_glass)]
    return PurposeDecision(True, Outcome.ALLOWED, last.note or f"allowed by {', '.join(last.values)}", roles, action,
                           purpose, via, state.version, last.values, frozenset(scopes), fields, kinds, categories,
                           bool(expanded & state.borrowers), implied)


def _matches(state: _State, roles: frozenset[str], purpose: Purpose, action: Action,
             via: Via) -> tuple[list[_Match], list[_Match]]:
    allows: list[_Match] = []
    denies: list[_Match] = []
    index = state.index
    for role in roles:
        for pur in (purpose, ANY):
            for v in (via, ANY):
                for match in index.get((role, pur, action, v), ()):
                    (allows if match.values[5] == Effect.ALLOW else denies).append(match)
    return allows, denies
