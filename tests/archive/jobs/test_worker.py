"""The scheduler: one leader among several `archive worker` processes; one run per tick."""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import time
from collections import Counter

import pytest
from sqlalchemy import select

from archive.db import Database, make_engine
from archive.jobs.models import JobRun
from archive.jobs.scheduler import REGISTRY, run_tick
from tests.processes import ARCHIVE, env_with, stop


def test_a_tick_runs_each_job_once(db):
    assert run_tick(db, "1001", worker="a", jobs={"heartbeat": REGISTRY["heartbeat"]}) == ["heartbeat"]
    assert run_tick(db, "1001", worker="b", jobs={"heartbeat": REGISTRY["heartbeat"]}) == []  # refused: ran
    assert run_tick(db, "1002", worker="b", jobs={"heartbeat": REGISTRY["heartbeat"]}) == ["heartbeat"]


def test_jobs_due_every_n_ticks(db):
    due = {name for name, j in REGISTRY.items() if 1004 % j.every_ticks == 0}
    assert "audit.checkpoint" in REGISTRY and "audit.checkpoint" not in due
    assert set(run_tick(db, "1004", worker="a")) == due


@pytest.mark.slow
def test_two_worker_processes_on_postgresql_run_the_job_once_per_tick(committed_pg_engine, tmp_path):
    # A database of its own: the workers commit job runs and audit events for real.
    pg_database_url = committed_pg_engine.url.render_as_string(hide_password=False)
    env = env_with(ARCHIVE_DATABASE_URL=pg_database_url, ARCHIVE_DATA_DIR=str(tmp_path), ARCHIVE_LOG_LEVEL="INFO")
    procs = [subprocess.Popen([ARCHIVE, "worker", "--tick", "0.5"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, start_new_session=True) for _ in range(2)]
    started = time.time()
    try:
        time.sleep(6)
    finally:
        for proc in procs:  # SIGTERM both at once: the standby must not take over in between
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            stop(proc)
    outputs = [p.communicate()[0].decode() for p in procs]
    engine = make_engine(pg_database_url, pool_size=0)
    with Database(engine).unit_of_work() as uow:
        runs = uow.session.scalars(select(JobRun).where(JobRun.job == "heartbeat")).all()
    engine.dispose()
    ticks = Counter(r.tick for r in runs)
    assert len(runs) >= 6, outputs  # ~12 ticks in 6 s at 0.5 s
    assert max(ticks.values()) == 1
    # One leader: the workers never alternate. (At shutdown the standby may take over for the
    # last tick if the leader exits first; that is fail-over, not a second leader.)
    order = [r.worker for r in sorted(runs, key=lambda r: int(r.tick))]
    handovers = sum(1 for a, b in itertools.pairwise(order) if a != b)
    assert handovers <= 1, order
    assert order.count(order[0]) >= len(order) - 1, order
    assert all(r.outcome == "done" for r in runs)
    assert any("worker.standby" in out for out in outputs), outputs
    assert time.time() - started < 60


def test_the_checkpoint_job_signs_the_head(db, tmp_path):
    from archive.keyfiles import checkpoint_keys
    from audit import checkpoints
    from audit.events import AuditAction

    checkpoint_keys(tmp_path, create=True)
    assert run_tick(db, "1005", worker="a", jobs={"audit.checkpoint": REGISTRY["audit.checkpoint"]},
                    keys_dir=tmp_path) == ["audit.checkpoint"]
    with db.session_factory() as session:
        latest = checkpoints.latest(session.connection())
        actions = session.execute(select(JobRun.detail).where(JobRun.job == "audit.checkpoint")).scalars().all()
    assert latest is not None and latest.seq >= 1
    assert f"checkpoint at {latest.seq}" in actions
    assert AuditAction.AUDIT_CHECKPOINT


def test_a_failing_job_leaves_nothing_behind_and_the_others_still_run(db):
    from archive.identity.models import Department
    from archive.jobs.scheduler import RegisteredJob

    def half_done(ctx):  # type: ignore[no-untyped-def]
        ctx.session.add(Department(code="HALF", name="Written before the job failed"))
        ctx.session.flush()
        raise RuntimeError("the job failed half-way")

    jobs = {"half_done": RegisteredJob("half_done", half_done), "heartbeat": REGISTRY["heartbeat"]}
    assert run_tick(db, "2001", worker="a", jobs=jobs) == ["heartbeat"]
    with db.session_factory() as session:
        assert session.scalar(select(Department).where(Department.code == "HALF")) is None
        runs = session.scalars(select(JobRun.job).where(JobRun.tick == "2001")).all()
    assert runs == ["heartbeat"]  # the failed run's row went with its work: the next tick retries it


def test_the_leader_lock_holds_no_transaction_open_on_postgresql(committed_pg_engine):
    from sqlalchemy import text

    from archive.jobs.scheduler import LEADER_LOCK_KEY, LeaderLock

    db = Database(committed_pg_engine)
    first, second = LeaderLock(db, None), LeaderLock(db, None)
    try:
        assert first.acquire() and first.acquire()  # held: asking again keeps it
        assert not second.acquire()
        with committed_pg_engine.connect() as conn:
            states = conn.execute(text(
                "SELECT a.state FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
                "WHERE l.locktype = 'advisory' AND l.granted AND l.objid::bigint = :k "
                    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())"),
                {"k": LEADER_LOCK_KEY}).scalars()
            assert list(states) == ["idle"]  # not "idle in transaction": nothing left open beside the lock
        first.release()
        assert second.acquire()  # fail-over
    finally:
        first.release()
        second.release()
