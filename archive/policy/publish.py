"""Releasing a policy: the files are checked as `archive policy check` checks them, and their
version becomes the newest `policy_releases` row, with its audit event, in the caller's
transaction. Every serving process follows the newest row within its poll interval (watch.py).

    with db.unit_of_work() as uow:
        release, warnings = release_policy(uow.session, settings.policy_dir, auditor, note="why")
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.errors import Conflict, FieldError, InvalidInput
from archive.policy.check import check_policies
from archive.policy.files import Problem, Severity, policy_version
from archive.policy.models import Release
from archive.policy.repository import add_release, newest_release
from audit.events import AuditAction

NOTE_MAX = 500  # PolicyRelease.note


@dataclass(frozen=True, slots=True)
class PolicyStatus:
    """The files in one directory against the newest release."""

    files_version: str
    released: Release | None

    @property
    def files_released(self) -> bool:
        """The files here are the newest release (or nothing was released yet)."""
        return self.released is None or self.released.version == self.files_version


def policy_status(target: Session | Connection, directory: Path) -> PolicyStatus:
    return PolicyStatus(policy_version(directory), newest_release(target))


def release_policy(session: Session, directory: Path, auditor: Auditor,
                   note: str = "") -> tuple[Release, list[Problem]]:
    """Check the files in `directory` and record their version as the policy in force, audited
    as `policy.released` by `auditor`'s actor. Flushes; the caller commits. Refused (nothing
    recorded) with every error listed when the check finds one; returns the warnings."""
    if len(note) > NOTE_MAX:
        raise InvalidInput("The note is too long.", errors=[FieldError("note", f"at most {NOTE_MAX} characters")])
    version, warnings = _checked_version(directory)
    previous = newest_release(session)
    if previous is not None and previous.version == version:
        raise Conflict(f"Policy {version} is already the released policy; change the files first.")
    release = add_release(session, version=version, released_by=auditor.actor.name[:200], note=note)
    auditor.record(session, AuditAction.POLICY_RELEASED, resource_type="policy", resource_id=version,
                   policy_version=version, reason=note,
                   extra={"previous": previous.version if previous else "", "warnings": str(len(warnings))})
    return release, warnings


def _checked_version(directory: Path) -> tuple[str, list[Problem]]:
    """The version of files that pass the check, and the check's warnings."""
    version = policy_version(directory)
    problems = check_policies(directory)
    errors = [p for p in problems if p.severity is Severity.ERROR]
    if errors:
        raise InvalidInput(f"The policy files have {len(errors)} error(s); nothing was released.",
                           errors=[FieldError(_where(p), p.message) for p in errors])
    if policy_version(directory) != version:
        raise Conflict("The policy files changed while they were checked; release again.")
    return version, [p for p in problems if p.severity is not Severity.ERROR]


def _where(problem: Problem) -> str:
    return problem.file if problem.line is None else f"{problem.file}:{problem.line}"
