"""Every serving process follows the newest policy release without a restart.

A daemon thread (started and stopped by the app's lifespan, like the audit sequencer) reads
the newest `policy_releases` row every `interval` seconds. When its version differs from the
policy this process decides with, and the files here hash to it, the engine reloads (one swap;
a decision in flight finishes on the policy it started with) and the process records
`policy.reloaded`. What is in force:

- no release yet: the files as loaded at start;
- a release whose files are here: that release, in every process within one interval;
- a release whose files are *not* here (files not yet deployed to this host, or edited here
  without a release): the process keeps the policy it holds, logs `policy.watch.mismatch`
  once and sets `mismatch`; each tick looks again, so files that arrive later are picked up.
  Unreleased edits never go live in a running process. (A starting process loads the files it
  finds; if they are not the newest release, its first check reports the mismatch.)
- a release whose files fail to load here (`PolicyError`): the policy held stays, logged once;
- the database cannot be read: logged, `healthy` is false, the next tick retries.
"""

from __future__ import annotations

import os
import socket
import threading
from enum import StrEnum

import structlog
from sqlalchemy.exc import SQLAlchemyError

from archive.auditing import Auditor, system_actor
from archive.db import Database
from archive.errors import ArchiveError
from archive.policy.engine import PolicyEngine
from archive.policy.files import PolicyError, policy_version
from archive.policy.repository import newest_release
from audit.events import AuditAction

log = structlog.get_logger("archive.policy")


class WatchOutcome(StrEnum):
    UNRELEASED = "unreleased"  # no release row: the files as loaded are in force
    CURRENT = "current"  # already deciding with the newest release
    RELOADED = "reloaded"  # switched to the newest release just now
    MISMATCH = "mismatch"  # the files here are not the newest release; the policy held stays
    FAILED = "failed"  # the released files do not load here; the policy held stays
    UNAVAILABLE = "unavailable"  # the database could not be read; retried next tick


class PolicyWatcher:
    """Reloads `policy` when a newer release is recorded in `db`. `check_once()` is one tick."""

    def __init__(self, policy: PolicyEngine, db: Database, *, interval: float = 2.0) -> None:
        self.policy = policy
        self.db = db
        self.interval = interval
        self.released: str | None = None  # the newest released version seen
        self.mismatch = False  # this process does not decide with the newest release
        self.healthy = True  # the last read of the release table succeeded
        self._reported: tuple[WatchOutcome, str, str] | None = None  # logged once, not every tick
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="policy-watcher", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            try:
                self.check_once()
            except Exception as exc:  # keep watching; the next tick retries
                log.error("policy.watch.failed", error=type(exc).__name__)

    def check_once(self) -> WatchOutcome:
        try:
            with self.db.engine.connect() as conn:
                release = newest_release(conn)
        except SQLAlchemyError as exc:
            self.healthy = False
            log.error("policy.watch.read_failed", error=type(exc).__name__)
            return WatchOutcome.UNAVAILABLE
        self.healthy = True
        self.released = release.version if release else None
        if release is None or release.version == self.policy.version:
            self.mismatch, self._reported = False, None
            return WatchOutcome.UNRELEASED if release is None else WatchOutcome.CURRENT
        return self._follow(release.version)

    def _follow(self, released: str) -> WatchOutcome:
        self.mismatch = True  # until the reload below succeeds
        files = policy_version(self.policy.path)
        if files != released:
            self._report(WatchOutcome.MISMATCH, released, files)
            return WatchOutcome.MISMATCH
        if self._reported == (WatchOutcome.FAILED, released, files):
            return WatchOutcome.FAILED  # the same files failed before; they will fail again
        previous = self.policy.version
        try:
            loaded = self.policy.reload()
        except PolicyError as exc:
            self._report(WatchOutcome.FAILED, released, files, problems=len(exc.problems),
                         first=str(exc.problems[0]) if exc.problems else "")
            return WatchOutcome.FAILED
        if loaded != released:  # the files changed between hashing and loading
            self._report(WatchOutcome.MISMATCH, released, loaded)
            return WatchOutcome.MISMATCH
        self.mismatch, self._reported = False, None
        log.info("policy.reloaded", version=loaded, previous=previous, pid=os.getpid())
        self._record(previous, loaded)
        return WatchOutcome.RELOADED

    def _report(self, outcome: WatchOutcome, released: str, files: str, **details: object) -> None:
        if self._reported != (outcome, released, files):
            self._reported = (outcome, released, files)
            event = "policy.watch.mismatch" if outcome is WatchOutcome.MISMATCH else "policy.watch.reload_failed"
            log.error(event, released=released, files=files, held=self.policy.version,
                      path=str(self.policy.path), pid=os.getpid(), **details)

    def _record(self, previous: str, loaded: str) -> None:
        """Audit the switch. The release itself was audited when recorded; if this event cannot
        be written the reload stands (every decision carries its policy version anyway)."""
        try:
            with self.db.unit_of_work() as uow:
                Auditor(system_actor("serve:policy reload")).record(
                    uow.session, AuditAction.POLICY_RELOADED, resource_type="process",
                    resource_id=f"{socket.gethostname()}:{os.getpid()}", policy_version=loaded,
                    extra={"previous": previous})
        except (ArchiveError, SQLAlchemyError) as exc:
            log.error("policy.watch.audit_failed", error=type(exc).__name__, version=loaded)
