"""The administrator's policy acts: which policy is in force here, and releasing the files.
Who may do either is itself policy data (`policy.manage` in policies/permissions.csv)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from archive.auditing import Auditor
from archive.db import UnitOfWork
from archive.policy.engine import PolicyEngine
from archive.policy.files import Problem
from archive.policy.models import Release
from archive.policy.publish import policy_status, release_policy


@dataclass(frozen=True, slots=True)
class PolicyState:
    directory: Path
    files_version: str  # of the files in the directory now
    loaded_version: str  # what this process decides with
    released: Release | None  # the newest release, if any
    files_released: bool  # the files here are the newest release (or none was made)

    @property
    def current(self) -> bool:
        """This process decides with the newest release (or none was made)."""
        return self.released is None or self.released.version == self.loaded_version


class PolicyService:
    def __init__(self, uow: UnitOfWork, engine: PolicyEngine) -> None:
        self.uow = uow
        self.engine = engine

    def state(self) -> PolicyState:
        with self.uow:
            status = policy_status(self.uow.session, self.engine.path)
        return PolicyState(self.engine.path, status.files_version, self.engine.version, status.released,
                           status.files_released)

    def release(self, auditor: Auditor, note: str = "") -> tuple[Release, list[Problem]]:
        """Check the files here and record their version as the policy in force (audited);
        every serving process follows within its poll interval."""
        with self.uow:
            return release_policy(self.uow.session, self.engine.path, auditor, note=note)
