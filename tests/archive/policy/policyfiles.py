"""Helpers for tests that need a policy directory of their own (a copy of the shipped one,
edited)."""

from __future__ import annotations

import shutil
from pathlib import Path

from archive.policy import default_policy_dir


def copy_policies(tmp_path: Path) -> Path:
    target = tmp_path / "policies"
    shutil.copytree(default_policy_dir(), target)
    return target


def append(path: Path, text: str) -> None:
    path.write_text(path.read_text(encoding="utf-8") + text, encoding="utf-8")


def replace(path: Path, old: str, new: str) -> None:
    content = path.read_text(encoding="utf-8")
    assert old in content, f"{old!r} not in {path.name}"
    path.write_text(content.replace(old, new), encoding="utf-8")
