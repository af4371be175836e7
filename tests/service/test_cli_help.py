"""`archive --help` (and each group's) from a real process: every command group is listed, and
asking for help loads none of the heavy machinery, which is what keeps it quick."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.processes import env_with, run

COMMANDS = ("serve", "demo", "worker")
GROUPS = {
    "db": ("upgrade",),
    "users": ("add", "list", "disable", "set-roles", "revoke-sessions"),
    "departments": ("add", "list"),
    "audit": ("verify", "checkpoint"),
    "keys": ("status", "rotate", "rewrap", "retire"),
    "policy": ("check", "release", "status"),
    "blobs": ("check",),
    "import": ("customers",),
}
# What a command may load, but `--help` must not.
HEAVY = ("fastapi", "sqlalchemy", "cryptography", "casbin", "alembic", "uvicorn", "pydantic", "archive", "audit",
         "crypto", "service.app", "service.context")


def _help(*args: str) -> str:
    result = run(*args, "--help", env=env_with(COLUMNS="200"), timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_help_lists_every_command_and_group():
    text = _help()
    listed = {line.split()[1] for line in text.splitlines() if line.startswith("│ ") and len(line.split()) > 1}
    assert set(COMMANDS) | set(GROUPS) <= listed


@pytest.mark.parametrize("group", sorted(GROUPS))
def test_each_group_lists_its_commands(group):
    text = _help(group)
    listed = {line.split()[1] for line in text.splitlines() if line.startswith("│ ") and len(line.split()) > 1}
    assert set(GROUPS[group]) <= listed


@pytest.mark.parametrize("command", [*COMMANDS, *(f"{g} {c}" for g, cs in GROUPS.items() for c in cs)])
def test_every_command_has_help(command):
    assert "Usage: archive " + command in " ".join(_help(*command.split()).split())


def test_help_imports_nothing_heavy():
    probe = ("import json, sys\n"
             "sys.argv = ['archive', '--help']\n"
             "from service.cli import main\n"
             "try:\n    main()\nexcept SystemExit:\n    pass\n"
             f"heavy = {HEAVY!r}\n"
             "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in heavy or m in heavy)))\n")
    result = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60,
                            env=env_with(COLUMNS="200"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.splitlines()[-1]) == []
