"""Scheduled jobs: what runs, how often, and the rule that each runs once per tick — one unit
of work per job, with its `job_runs` row, whose unique (job, tick) refuses a second run even if
two schedulers ever overlapped. Run by `archive worker` (archive/jobs/scheduler.py)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from archive.auditing import Auditor, system_actor
from archive.db import Database
from archive.jobs.repository import JobRunRepository

log = structlog.get_logger("archive.worker")


@dataclass(frozen=True, slots=True)
class JobContext:
    session: Session  # the job's unit of work: what it writes commits with its job_runs row
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


def tick_key(now: datetime, seconds: float) -> str:
    return str(int(now.timestamp() // seconds))


class JobService:
    def __init__(self, db: Database, *, keys_dir: Path | None = None) -> None:
        self.db = db
        self.keys_dir = keys_dir

    def run_tick(self, tick: str, *, worker: str, jobs: dict[str, RegisteredJob] | None = None) -> list[str]:
        """Run every job due at this tick once; one already recorded for it is skipped, and
        one failing job does not stop the others (its unit of work is rolled back)."""
        ran: list[str] = []
        for registered in (jobs or REGISTRY).values():
            if int(tick) % registered.every_ticks:
                continue
            try:
                with self.db.unit_of_work() as uow:
                    runs = JobRunRepository(uow.session)
                    run = runs.start(registered.name, tick, worker)
                    runs.finish(run, registered.run(JobContext(uow.session, tick, self.db, self.keys_dir)))
                ran.append(registered.name)
                log.info("worker.job.done", job=registered.name, tick=tick)
            except IntegrityError:
                log.info("worker.job.skipped", job=registered.name, tick=tick, why="already ran this tick")
            except Exception as exc:  # one failing job must not stop the others
                log.error("worker.job.failed", job=registered.name, tick=tick, error=type(exc).__name__)
        return ran


def run_tick(db: Database, tick: str, *, worker: str, jobs: dict[str, RegisteredJob] | None = None,
             keys_dir: Path | None = None) -> list[str]:
    return JobService(db, keys_dir=keys_dir).run_tick(tick, worker=worker, jobs=jobs)


def worker_auditor() -> Auditor:
    """The worker's events name the version of the policy files it is configured with."""
    from archive.policy.files import policy_version
    from archive.settings import Settings

    return Auditor(system_actor("worker"), policy_version=policy_version(Settings().policy_dir))


# --- the jobs ---------------------------------------------------------------------------------------
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
    checkpoint = make_checkpoint(ctx.session.connection(), checkpoint_keys(ctx.keys_dir, create=False),
                                 worker_auditor())
    return f"checkpoint at {checkpoint.seq}" if checkpoint else "log empty"


@job("contracts.overdue", every_ticks=5)
def contracts_overdue(ctx: JobContext) -> str:
    """Flag contract hand-over steps that went past their one-month due date (004 §3), as of
    today in the company time zone; the ledger lists them (`GET /contracts?handover=overdue`)."""
    from archive.contracts.service import ContractLedger
    from archive.db import utcnow
    from archive.settings import Settings
    from audit.events import AuditAction

    today = datetime.now(Settings().zone).date()
    ledger = ContractLedger(ctx.session)
    fresh = ledger.flag_late(today, utcnow())
    total = len(ledger.late(today))
    if fresh:
        worker_auditor().record(ctx.session, AuditAction.CONTRACTS_OVERDUE, resource_type="contract",
                                extra={"newly_late": str(fresh), "late": str(total)})
    return f"{total} late step(s), {fresh} new"
