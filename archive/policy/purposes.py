"""`purposes.yaml`: what each purpose admits, who may state it, whether a loan may bind it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from archive.policy.files import PURPOSES_FILE, Problem
from archive.vocabulary import Action, DataCategory, DocumentFile, FieldGroup, Purpose


class Admission(StrEnum):
    CLEAR = "clear"  # the value
    MASKED = "masked"  # the field's masking rule; omitted without one
    METADATA = "metadata"  # unencrypted fields clear, encrypted ones masked (or omitted)


# Where a field lives: one of the three basic groups, or a non-basic category.
SECTIONS: tuple[str, ...] = (*FieldGroup, *(c for c in DataCategory if c is not DataCategory.BASIC))
_EXPAND = {DataCategory.BASIC.value: tuple(FieldGroup)}

_KEYS = {"description", "admits", "fields", "document_files", "borrowable", "roles", "implied_for",
         "break_glass_admits", "reserved"}


@dataclass(frozen=True, slots=True)
class PurposeSpec:
    purpose: Purpose
    description: str = ""
    admits: Mapping[str, Admission] = field(default_factory=dict)  # section -> admission
    fields: Mapping[str, Admission] = field(default_factory=dict)  # single fields beyond the sections
    document_files: frozenset[DocumentFile] | None = None  # None: every file
    borrowable: bool = False
    roles: frozenset[str] = frozenset()
    implied_for: frozenset[str] = frozenset()
    break_glass_admits: Mapping[str, Admission] | None = None
    reserved: str | None = None


@dataclass(frozen=True, slots=True)
class Purposes:
    specs: Mapping[Purpose, PurposeSpec]
    loan_actions: frozenset[Action]


def parse_purposes(data: Mapping[str, Any], problems: list[Problem]) -> Purposes:
    def problem(message: str) -> None:
        problems.append(Problem(PURPOSES_FILE, None, message))

    loan_actions = set()
    for raw in data.get("loan_actions") or []:
        if raw in Action.__members__.values():
            loan_actions.add(Action(raw))
        else:
            problem(f"loan_actions: unknown action {raw!r}")
    specs: dict[Purpose, PurposeSpec] = {}
    entries = data.get("purposes") or {}
    if not isinstance(entries, dict):
        problem("purposes must be a mapping of purpose id to its entry")
        entries = {}
    for key, entry in entries.items():
        if key not in Purpose.__members__.values():
            problem(f"unknown purpose {key!r}")
            continue
        if not isinstance(entry, dict):
            problem(f"{key}: the entry must be a mapping")
            continue
        specs[Purpose(key)] = _spec(Purpose(key), entry, problem)
    for key in set(data) - {"loan_actions", "purposes"}:
        problem(f"unknown top-level key {key!r}")
    return Purposes(MappingProxyType(specs), frozenset(loan_actions))


def _spec(purpose: Purpose, entry: dict[str, Any], problem: Callable[[str], None]) -> PurposeSpec:
    for key in set(entry) - _KEYS:
        problem(f"{purpose}: unknown key {key!r}")
    files = entry.get("document_files")
    documents = None
    if files is not None:
        documents = frozenset(DocumentFile(f) for f in files if f in DocumentFile.__members__.values())
        for f in set(files) - set(documents):
            problem(f"{purpose}: unknown document file {f!r}")
    bg = entry.get("break_glass_admits")
    return PurposeSpec(
        purpose=purpose,
        description=str(entry.get("description", "")),
        admits=_admits(purpose, entry.get("admits") or {}, problem),
        fields=_modes(purpose, "fields", entry.get("fields") or {}, problem),
        document_files=documents,
        borrowable=bool(entry.get("borrowable", False)),
        roles=frozenset(str(r) for r in entry.get("roles") or []),
        implied_for=frozenset(str(r) for r in entry.get("implied_for") or []),
        break_glass_admits=None if bg is None else _admits(purpose, bg, problem),
        reserved=None if entry.get("reserved") is None else str(entry["reserved"]),
    )


def _modes(purpose: Purpose, what: str, raw: Any, problem: Callable[[str], None]) -> dict[str, Admission]:
    if not isinstance(raw, dict):
        problem(f"{purpose}: {what} must be a mapping")
        return {}
    out = {}
    for key, mode in raw.items():
        if mode in Admission.__members__.values():
            out[str(key)] = Admission(mode)
        else:
            problem(f"{purpose}: {what}.{key}: unknown mode {mode!r} (clear, masked, metadata)")
    return out


def _admits(purpose: Purpose, raw: Any, problem: Callable[[str], None]) -> Mapping[str, Admission]:
    out: dict[str, Admission] = {}
    for key, mode in _modes(purpose, "admits", raw, problem).items():
        if key in _EXPAND:
            out.update(dict.fromkeys((s.value for s in _EXPAND[key]), mode))
        elif key in SECTIONS:
            out[key] = mode
        else:
            problem(f"{purpose}: admits unknown group or category {key!r}")
    return MappingProxyType(out)
