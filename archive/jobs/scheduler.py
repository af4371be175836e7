"""`archive worker`: the one place scheduled jobs run (the jobs and the once-per-tick rule are
in archive/jobs/service.py).

Several workers may run; one is the leader. On PostgreSQL the leader holds a session-level
advisory lock on a dedicated connection in autocommit mode (no transaction is ever left open
on it, and the lock outlives every statement); on SQLite (one machine) an exclusive file lock
next to the database. Jobs are idempotent per tick besides: each run inserts a (job, tick) row
whose unique constraint refuses a second run of the same tick.
"""

from __future__ import annotations

import fcntl
import os
import socket
from datetime import UTC, datetime
from pathlib import Path
from typing import IO

import structlog
from sqlalchemy import Connection, text

from archive.db import Database
from archive.jobs.service import REGISTRY, JobContext, RegisteredJob, job, run_tick, tick_key

__all__ = ["LEADER_LOCK_KEY", "REGISTRY", "JobContext", "LeaderLock", "RegisteredJob", "job", "run_tick",
           "serve_forever", "tick_key", "worker_name"]

log = structlog.get_logger("archive.worker")

LEADER_LOCK_KEY = 0x41524348  # "ARCH": the advisory-lock key every worker competes for


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
        if self.held:  # asked again: still ours (a second pg_try_advisory_lock would stack)
            return True
        if self.db.dialect == "postgresql":
            # Autocommit: each statement is its own transaction, so the connection idles outside
            # one while the session-level lock stays held.
            self._conn = self.db.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            got = bool(self._conn.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LEADER_LOCK_KEY}).scalar())
            if not got:
                self._conn.close()
                self._conn = None
            return got
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
