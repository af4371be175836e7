"""`archive worker`: the one place scheduled jobs run.

Several workers may run; one is the leader. On PostgreSQL the leader holds a session-level
advisory lock on a dedicated connection; on SQLite (one machine) an exclusive file lock next
to the database. Jobs are idempotent per tick besides: each run inserts a (job, tick) row
whose unique constraint refuses a second run of the same tick.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING

import structlog
from sqlalchemy import Connection, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.db import Database, utcnow
from archive.jobs.models import JobRun

if TYPE_CHECKING:
    from archive.auditing import Auditor

log = structlog.get_logger("archive.worker")

LEADER_LOCK_KEY = 0x41524348  # "ARCH": the advisory-lock key every worker competes for


@dataclass(frozen=True, slots=True)
class JobContext:
    session: Session
    tick: str
    db: Database
    keys_dir: Path | None = None


Job = Callable[[JobContext], str | None]


@dataclass(frozen=True, slots=True)
class RegisteredJob:
    name: str
    run: Job
    every_ticks: int = 1


REGISTRY: dict[str, RegisteredJob] = {}


def job(name: str, *, every_ticks: int = 1) -> Callable[[Job], Job]:
    """Register a scheduled job; later issues add overdue loans, late hand-overs, checkpoints."""

    def register(fn: Job) -> Job:
        REGISTRY[name] = RegisteredJob(name, fn, every_ticks)
        return fn

    return register


@job("heartbeat")
def heartbeat(ctx: JobContext) -> str:
    """Proves the scheduler ticks: one job_runs row per tick, from the leader only."""
    return f"tick {ctx.tick}"


@job("audit.checkpoint", every_ticks=15)
def audit_checkpoint(ctx: JobContext) -> str:
    """Sign the head of the access log periodically: the undetectable window for a rewritten
    or truncated chain is the checkpoint interval."""
    from archive.auditlog.service import make_checkpoint
    from archive.keyfiles import checkpoint_keys

    if ctx.keys_dir is None:
        return "no keys directory"
    checkpoint = make_checkpoint(ctx.session.connection(), checkpoint_keys(ctx.keys_dir, create=False), _auditor())
    return f"checkpoint at {checkpoint.seq}" if checkpoint else "log empty"


def _auditor() -> Auditor:
    """The worker's events name the version of the policy files it is configured with."""
    from archive.auditing import Auditor, system_actor
    from archive.policy.files import policy_version
    from archive.settings import Settings

    return Auditor(system_actor("worker"), policy_version=policy_version(Settings().policy_dir))


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class LeaderLock:
    """Try to become the leader; keep the lock for the life of the process."""

    def __init__(self, db: Database, lock_path: Path | None) -> None:
        self.db = db
        self.lock_path = lock_path
        self._conn: Connection | None = None
        self._file: IO[str] | None = None

    def acquire(self) -> bool:
        if self.db.dialect == "postgresql":
            if self._conn is None:
                self._conn = self.db.engine.connect()
            got = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK_KEY}).scalar())
            self._conn.commit()
            if not got:
                self._conn.close()
                self._conn = None
            return got
        if self._file is not None:
            return True
        assert self.lock_path is not None
        handle = self.lock_path.open("a")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.close()
            return False
        self._file = handle
        return True

    @property
    def held(self) -> bool:
        return self._conn is not None or self._file is not None

    def release(self) -> None:
        if self._conn is not None:
            self._conn.execute(text("SELECT pg_advisory_unlock(:k)"), {"k": LEADER_LOCK_KEY})
            self._conn.close()
            self._conn = None
        if self._file is not None:
            self._file.close()
            self._file = None


def tick_key(now: datetime, seconds: float) -> str:
    return str(int(now.timestamp() // seconds))


def run_tick(db: Database, tick: str, *, worker: str, jobs: dict[str, RegisteredJob] | None = None,
             keys_dir: Path | None = None) -> list[str]:
    """Run every due job once for this tick; a job already recorded for it is skipped."""
    ran: list[str] = []
    for registered in (jobs or REGISTRY).values():
        if int(tick) % registered.every_ticks:
            continue
        try:
            with db.unit_of_work() as uow:
                uow.session.add(JobRun(job=registered.name, tick=tick, worker=worker))
                uow.session.flush()
                detail = registered.run(JobContext(uow.session, tick, db, keys_dir))
                run = uow.session.query(JobRun).filter_by(job=registered.name, tick=tick).one()
                run.outcome, run.detail, run.finished_at = "done", detail, utcnow()
            ran.append(registered.name)
            log.info("worker.job.done", job=registered.name, tick=tick)
        except IntegrityError:
            log.info("worker.job.skipped", job=registered.name, tick=tick, why="already ran this tick")
        except Exception as exc:  # one failing job must not stop the others
            log.error("worker.job.failed", job=registered.name, tick=tick, error=type(exc).__name__)
    return ran


def serve_forever(db: Database, *, tick_seconds: float, lock_path: Path | None, keys_dir: Path | None = None,
                  once: bool = False) -> None:
    """Run the scheduler (APScheduler) until interrupted; only the leader runs jobs."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    me = worker_name()
    lock = LeaderLock(db, lock_path)

    def tick() -> None:
        if not lock.held and not lock.acquire():
            log.info("worker.standby", worker=me)
            return
        run_tick(db, tick_key(datetime.now(UTC), tick_seconds), worker=me, keys_dir=keys_dir)

    if once:
        tick()
        lock.release()
        return
    scheduler = BlockingScheduler(timezone=UTC)
    scheduler.add_job(tick, "interval", seconds=tick_seconds, next_run_time=datetime.now(UTC),
                      max_instances=1, coalesce=True, misfire_grace_time=max(1, int(tick_seconds)))
    log.info("worker.started", worker=me, tick_seconds=tick_seconds, jobs=sorted(REGISTRY))
    try:
        scheduler.start()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        lock.release()




@job("contracts.overdue", every_ticks=5)
def contracts_overdue(ctx: JobContext) -> str:
    """Flag contract hand-over steps that went past their one-month due date (004 §3), as of
    today in the company time zone; the ledger lists them (`GET /contracts?handover=overdue`)."""
    from datetime import datetime

    from archive.contracts.service import ContractLedger
    from archive.db import utcnow
    from archive.settings import Settings
    from audit.events import AuditAction

    today = datetime.now(Settings().zone).date()
    ledger = ContractLedger(ctx.session)
    fresh = ledger.flag_late(today, utcnow())
    total = len(ledger.late(today))
    if fresh:
        _auditor().record(ctx.session, AuditAction.CONTRACTS_OVERDUE, resource_type="contract",
                          extra={"newly_late": str(fresh), "late": str(total)})
    return f"{total} late step(s), {fresh} new"
