"""`fields.yaml` and `document_kinds.yaml`: where each field and document kind belongs, and the
per-purpose plan computed from them (which fields are clear, masked or omitted, which document
kinds' content is admitted)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from archive.policy.decision import FieldPlan, Visibility
from archive.policy.files import DOCUMENT_KINDS_FILE, FIELDS_FILE, Problem
from archive.policy.masking import MASKS
from archive.policy.purposes import SECTIONS, Admission
from archive.vocabulary import DataCategory, DocumentFile, DocumentKind, FieldGroup

_GROUPS = frozenset(FieldGroup)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    section: str  # a basic group, or a non-basic category
    encrypted: bool
    mask: str | None = None
    public_for_kinds: frozenset[str] = frozenset()

    @property
    def category(self) -> DataCategory:
        return DataCategory.BASIC if self.section in _GROUPS else DataCategory(self.section)


@dataclass(frozen=True, slots=True)
class KindSpec:
    kind: DocumentKind
    file: DocumentFile
    category: DataCategory
    group: FieldGroup | None = None

    @property
    def section(self) -> str:
        """The section whose clear admission admits the content (`basic` documents: contact)."""
        if self.category is DataCategory.BASIC:
            return (self.group or FieldGroup.CONTACT).value
        return self.category.value


@dataclass(frozen=True, slots=True)
class Catalogue:
    fields: Mapping[str, FieldSpec]
    masks: Mapping[str, str]  # rule id -> description
    kinds: Mapping[DocumentKind, KindSpec]


def parse_fields(data: Mapping[str, Any], problems: list[Problem]) -> tuple[dict[str, FieldSpec], dict[str, str]]:
    def problem(message: str) -> None:
        problems.append(Problem(FIELDS_FILE, None, message))

    masks = {str(k): str(v) for k, v in (data.get("masks") or {}).items()}
    for rule in set(masks) - set(MASKS):
        problem(f"mask {rule!r} has no masking function (archive/policy/masking.py)")
    fields: dict[str, FieldSpec] = {}
    for name, entry in (data.get("fields") or {}).items():
        spec = _field(str(name), entry if isinstance(entry, dict) else {}, problem)
        if spec is not None:
            if spec.mask is not None and spec.mask not in masks:
                problem(f"{name}: unknown mask {spec.mask!r}")
            fields[spec.name] = spec
    return fields, masks


def _field(name: str, entry: dict[str, Any], problem: Callable[[str], None]) -> FieldSpec | None:
    group, category = entry.get("group"), entry.get("category")
    section = group if group is not None else category
    if (group is None) == (category is None):
        problem(f"{name}: give exactly one of group (profile, contact, identity) or category")
        return None
    if section not in SECTIONS or (group is not None and group not in _GROUPS):
        problem(f"{name}: unknown group or category {section!r}")
        return None
    if not isinstance(entry.get("encrypted"), bool):
        problem(f"{name}: encrypted must be true or false")
        return None
    for key in set(entry) - {"group", "category", "encrypted", "mask", "public_for_kinds"}:
        problem(f"{name}: unknown key {key!r}")
    mask = entry.get("mask")
    return FieldSpec(name, str(section), entry["encrypted"], None if mask is None else str(mask),
                     frozenset(str(k) for k in entry.get("public_for_kinds") or []))


def parse_kinds(data: Mapping[str, Any], problems: list[Problem]) -> dict[DocumentKind, KindSpec]:
    kinds: dict[DocumentKind, KindSpec] = {}
    for key, entry in (data.get("kinds") or {}).items():
        try:
            spec = KindSpec(DocumentKind(key), DocumentFile(entry["file"]), DataCategory(entry["category"]),
                            None if entry.get("group") is None else FieldGroup(entry["group"]))
        except (KeyError, TypeError, ValueError) as exc:
            message = f"{key}: not a known kind with a known file and category ({exc})"
            problems.append(Problem(DOCUMENT_KINDS_FILE, None, message))
            continue
        if spec.group is not None and spec.category is not DataCategory.BASIC:
            problems.append(Problem(DOCUMENT_KINDS_FILE, None, f"{key}: only basic has groups"))
            continue
        kinds[spec.kind] = spec
    return kinds


def plan_fields(catalogue: Catalogue, admits: Mapping[str, Admission],
                extra: Mapping[str, Admission]) -> Mapping[str, FieldPlan]:
    """Clear, masked or omitted for every known field under these admissions."""
    plan = {}
    for spec in catalogue.fields.values():
        admission = extra.get(spec.name, admits.get(spec.section))
        visibility = _visibility(spec, admission)
        public = spec.public_for_kinds if admission is not None else frozenset()
        plan[spec.name] = FieldPlan(visibility, spec.mask if visibility is Visibility.MASKED else None,
                                    spec.encrypted, public)
    return MappingProxyType(plan)


def _visibility(spec: FieldSpec, admission: Admission | None) -> Visibility:
    if admission is Admission.CLEAR or (admission is Admission.METADATA and not spec.encrypted):
        return Visibility.CLEAR
    if admission in (Admission.MASKED, Admission.METADATA) and spec.mask is not None:
        return Visibility.MASKED
    return Visibility.OMITTED


def admitted_kinds(catalogue: Catalogue, admits: Mapping[str, Admission],
                   files: frozenset[DocumentFile] | None) -> frozenset[DocumentKind]:
    """Kinds whose content these admissions admit: their section in clear, and their file allowed."""
    return frozenset(
        k.kind for k in catalogue.kinds.values()
        if admits.get(k.section) is Admission.CLEAR and (files is None or k.file in files)
    )


def categories_of(catalogue: Catalogue, admits: Mapping[str, Admission],
                  extra: Mapping[str, Admission]) -> tuple[str, ...]:
    found = {DataCategory.BASIC.value if s in _GROUPS else s for s in admits}
    found |= {catalogue.fields[f].category.value for f in extra if f in catalogue.fields}
    return tuple(c.value for c in DataCategory if c.value in found)
