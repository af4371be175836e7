"""Reading every policy file once, collecting problems instead of stopping at the first: the
engine loads from this, and `archive policy check` lints it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.policy.fields import FieldSpec, KindSpec, parse_fields, parse_kinds
from archive.policy.files import (
    DOCUMENT_KINDS_FILE,
    FIELDS_FILE,
    MODEL_FILE,
    PURPOSES_FILE,
    Problem,
    Row,
    lint_model,
    read_rows,
    read_yaml,
)
from archive.policy.purposes import Purposes, parse_purposes
from archive.vocabulary import DocumentKind


@dataclass(slots=True)
class ParsedPolicy:
    rows: list[Row]
    purposes: Purposes
    fields: dict[str, FieldSpec]
    masks: dict[str, str]
    kinds: dict[DocumentKind, KindSpec]
    problems: list[Problem]


def parse_policy_dir(directory: Path) -> ParsedPolicy:
    problems = lint_model(directory / MODEL_FILE)
    rows, row_problems = read_rows(directory)
    problems += row_problems
    purposes = parse_purposes(read_yaml(directory / PURPOSES_FILE, problems), problems)
    fields, masks = parse_fields(read_yaml(directory / FIELDS_FILE, problems), problems)
    kinds = parse_kinds(read_yaml(directory / DOCUMENT_KINDS_FILE, problems), problems)
    return ParsedPolicy(rows, purposes, fields, masks, kinds, problems)
