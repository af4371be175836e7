"""Queries of job runs: one row per (job, tick), refused a second time by its unique constraint."""

from __future__ import annotations

from sqlalchemy.orm import Session

from archive.db import utcnow
from archive.jobs.models import JobRun


class JobRunRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    def start(self, job: str, tick: str, worker: str) -> JobRun:
        """The run's row, flushed now: IntegrityError when this tick of the job already ran (or
        is running in another worker, whose insert this one waits for)."""
        run = JobRun(job=job, tick=tick, worker=worker)
        self.session.add(run)
        self.session.flush()
        return run

    def finish(self, run: JobRun, detail: str | None) -> None:
        run.outcome, run.detail, run.finished_at = "done", detail, utcnow()
        self.session.flush()
