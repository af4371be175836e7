"""Is a contract's dossier complete? The required kinds are policy data
(policies/contract_dossier.yaml); the checklist names what is there and what is missing."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import yaml

from archive.vocabulary import DocumentKind

FILE = "contract_dossier.yaml"


@dataclass(frozen=True, slots=True)
class Dossier:
    """What a contract's dossier must hold, what it holds of that, and what is missing."""

    required: list[str]
    present: list[str]
    missing: list[str]
    complete: bool


@dataclass(frozen=True, slots=True)
class Requirements:
    always: tuple[str, ...]
    once_performed: tuple[str, ...]

    @classmethod
    def load(cls, policy_dir: Path) -> Requirements:
        data = yaml.safe_load((policy_dir / FILE).read_text(encoding="utf-8")) or {}
        always = tuple(data.get("required", ()))
        performed = tuple(data.get("required_when_performed", ()))
        unknown = [k for k in (*always, *performed) if k not in set(DocumentKind)]
        if unknown:
            raise ValueError(f"{FILE}: unknown document kinds {unknown}")
        return cls(always, performed)

    def checklist(self, *, performed: bool, present: Iterable[str]) -> Dossier:
        required = [*self.always, *(self.once_performed if performed else ())]
        have = set(present)
        return Dossier(required, [k for k in required if k in have], [k for k in required if k not in have],
                       all(k in have for k in required))
