"""Releasing a policy (checked, recorded, audited in one transaction) and the watcher that makes
every process follow the newest release, on SQLite and PostgreSQL. The watcher reads through
its own connections, so its tests use databases whose writes really commit."""

from __future__ import annotations

import time

import pytest
import structlog
from sqlalchemy import Engine, select

from archive.auditing import Auditor, system_actor
from archive.db import Database, make_engine
from archive.errors import Conflict, InvalidInput
from archive.migrate import upgrade
from archive.policy import PolicyEngine, policy_version
from archive.policy.models import PolicyRelease
from archive.policy.publish import newest_release, policy_status, release_policy
from archive.policy.watch import PolicyWatcher, WatchOutcome
from archive.vocabulary import Action, Purpose, Role
from audit.tables import events
from tests.archive.policy.policyfiles import append, copy_policies, replace

REP = frozenset({Role.SALES_REP})
ADVISORY_READ = "p, sales_rep, advisory, customer.read, standard, own, allow\n"
ADVISORY_LIST = "p, sales_rep, advisory, customer.list, standard, own, allow\n"
UNKNOWN_ACTION = "p, sales_rep, advisory, customer.fly, standard, own, allow\n"
AUDITOR = Auditor(system_actor("cli:policy release"))


def withdraw_advisory_reads(directory):
    replace(directory / "allow.csv", ADVISORY_READ, "")
    replace(directory / "allow.csv", ADVISORY_LIST, "")


def rep_reads(engine: PolicyEngine) -> bool:
    return engine.decide(REP, Action.CUSTOMER_READ, Purpose.ADVISORY).allowed


def release(db: Database, directory, note: str = "") -> str:
    with db.unit_of_work() as uow:
        released, _ = release_policy(uow.session, directory, AUDITOR, note=note)
    return released.version


def audit_rows(db: Database, action: str) -> list:
    with db.engine.connect() as conn:
        return list(conn.execute(select(events).where(events.c.action == action)).all())


@pytest.fixture(params=["sqlite", "postgresql"])
def committed(request, tmp_path) -> Database:
    """A migrated database of its own, whose writes really commit."""
    if request.param == "postgresql":
        yield Database(request.getfixturevalue("committed_pg_engine"))
        return
    engine = make_engine(f"sqlite:///{tmp_path / 'watch.db'}")
    upgrade(engine)
    yield Database(engine)
    engine.dispose()


# --- releasing ------------------------------------------------------------------------------------
def test_a_release_records_the_version_and_its_audit_event_together(db, tmp_path):
    directory = copy_policies(tmp_path)
    with db.unit_of_work() as uow:
        released, warnings = release_policy(uow.session, directory, AUDITOR, note="advisory reads reviewed")
        assert released.version == policy_version(directory) and warnings == []
        assert released.released_by == AUDITOR.actor.name and released.note == "advisory reads reviewed"
        event = uow.session.execute(select(events).where(events.c.action == "policy.released")).one()
        assert newest_release(uow.session) == released
    assert (event.actor_kind, event.actor_id) == ("system", "cli:policy release")
    assert event.resource_id == event.policy_version == released.version
    assert event.reason == "advisory reads reviewed"


def test_invalid_files_are_refused_with_every_error_and_nothing_recorded(db, tmp_path):
    directory = copy_policies(tmp_path)
    append(directory / "allow.csv", UNKNOWN_ACTION)
    replace(directory / "purposes.yaml", "roles: [sales_rep, department_head]", "roles: [sales_rep, sales_boss]")
    with pytest.raises(InvalidInput) as refused, db.unit_of_work() as uow:
        release_policy(uow.session, directory, AUDITOR)
    messages = " | ".join(f"{e.field}: {e.message}" for e in refused.value.errors)
    assert "unknown action 'customer.fly'" in messages and "unknown role 'sales_boss'" in messages
    assert "allow.csv:" in messages and "nothing was released" in refused.value.detail
    with db.session_factory() as session:
        assert newest_release(session) is None
        assert session.execute(select(events).where(events.c.action == "policy.released")).first() is None


def test_the_released_version_again_is_refused_and_a_new_one_is_newest(db, tmp_path):
    directory = copy_policies(tmp_path)
    first = release(db, directory)
    with pytest.raises(Conflict, match="already the released policy"), db.unit_of_work() as uow:
        release_policy(uow.session, directory, AUDITOR)
    withdraw_advisory_reads(directory)
    second = release(db, directory, note="withdraw advisory reads")
    with db.session_factory() as session:
        assert [r.version for r in session.scalars(select(PolicyRelease).order_by(PolicyRelease.id))] == [
            first, second]
        state = policy_status(session, directory)
    assert state.released is not None and state.released.version == second and state.files_released
    with pytest.raises(InvalidInput), db.unit_of_work() as uow:
        release_policy(uow.session, directory, AUDITOR, note="x" * 501)


# --- following releases -----------------------------------------------------------------------------
def test_without_a_release_the_files_as_loaded_stay_in_force(committed, tmp_path):
    directory = copy_policies(tmp_path)
    policy = PolicyEngine(directory)
    withdraw_advisory_reads(directory)  # edited, not released
    watcher = PolicyWatcher(policy, committed)
    assert watcher.check_once() is WatchOutcome.UNRELEASED
    assert rep_reads(policy) and not watcher.mismatch and watcher.released is None


def test_a_release_is_loaded_at_the_next_check_and_audited(committed, tmp_path):
    directory = copy_policies(tmp_path)
    policy = PolicyEngine(directory)
    before = policy.version
    watcher = PolicyWatcher(policy, committed)
    assert release(committed, directory) == before
    assert watcher.check_once() is WatchOutcome.CURRENT  # the files it holds are the release
    withdraw_advisory_reads(directory)
    assert rep_reads(policy)  # an edit alone changes nothing
    released = release(committed, directory)
    assert watcher.check_once() is WatchOutcome.RELOADED
    assert policy.version == released == watcher.released and not watcher.mismatch
    assert not rep_reads(policy)
    assert policy.decide(REP, Action.CUSTOMER_READ, Purpose.ADVISORY).policy_version == released
    assert watcher.check_once() is WatchOutcome.CURRENT
    (event,) = audit_rows(committed, "policy.reloaded")
    assert event.policy_version == released and event.resource_type == "process"
    assert event.actor_id == "serve:policy reload" and before in event.extra


def test_files_that_are_not_the_release_are_not_loaded_until_they_are(committed, tmp_path):
    here = copy_policies(tmp_path / "here")
    elsewhere = copy_policies(tmp_path / "elsewhere")
    withdraw_advisory_reads(elsewhere)
    policy = PolicyEngine(here)
    held = policy.version
    watcher = PolicyWatcher(policy, committed)
    released = release(committed, elsewhere)  # released from another host's files
    append(here / "allow.csv", "\n# an unreleased edit on this host\n")
    with structlog.testing.capture_logs() as logs:
        assert watcher.check_once() is WatchOutcome.MISMATCH
        assert watcher.check_once() is WatchOutcome.MISMATCH
    assert policy.version == held and rep_reads(policy) and watcher.mismatch
    mismatches = [e for e in logs if e["event"] == "policy.watch.mismatch"]
    assert len(mismatches) == 1 and mismatches[0]["released"] == released
    assert mismatches[0]["log_level"] == "error" and mismatches[0]["held"] == held
    (here / "allow.csv").write_bytes((elsewhere / "allow.csv").read_bytes())  # the files arrive
    assert watcher.check_once() is WatchOutcome.RELOADED
    assert policy.version == released and not rep_reads(policy) and not watcher.mismatch


def test_a_release_that_does_not_load_here_keeps_the_policy_held(committed, tmp_path):
    directory = copy_policies(tmp_path)
    policy = PolicyEngine(directory)
    held = policy.version
    append(directory / "allow.csv", UNKNOWN_ACTION)  # e.g. released by a newer version of the code
    with committed.unit_of_work() as uow:
        uow.session.add(PolicyRelease(version=policy_version(directory), released_by="elsewhere"))
    watcher = PolicyWatcher(policy, committed)
    with structlog.testing.capture_logs() as logs:
        assert watcher.check_once() is WatchOutcome.FAILED
        assert watcher.check_once() is WatchOutcome.FAILED
    failures = [e for e in logs if e["event"] == "policy.watch.reload_failed"]
    assert len(failures) == 1 and "customer.fly" in failures[0]["first"]
    assert policy.version == held and rep_reads(policy) and watcher.mismatch


def test_an_unreadable_database_is_logged_and_retried(tmp_path):
    engine: Engine = make_engine(f"sqlite:///{tmp_path / 'unmigrated.db'}")
    db = Database(engine)
    directory = copy_policies(tmp_path)
    policy = PolicyEngine(directory)
    watcher = PolicyWatcher(policy, db, interval=0.05)
    with structlog.testing.capture_logs() as logs:
        assert watcher.check_once() is WatchOutcome.UNAVAILABLE
        watcher.start()
        time.sleep(0.3)  # several failing ticks; the thread keeps going
        assert watcher._thread.is_alive() and not watcher.healthy
        upgrade(engine)
        withdraw_advisory_reads(directory)
        released = release(db, directory)
        wait_for(lambda: policy.version == released)
        watcher.stop()
    assert watcher.healthy and not rep_reads(policy)
    assert any(e["event"] == "policy.watch.read_failed" for e in logs)
    engine.dispose()


def test_the_thread_follows_releases(committed, tmp_path):
    directory = copy_policies(tmp_path)
    policy = PolicyEngine(directory)
    watcher = PolicyWatcher(policy, committed, interval=0.05)
    watcher.start()
    try:
        withdraw_advisory_reads(directory)
        released = release(committed, directory)
        wait_for(lambda: policy.version == released)
        assert not rep_reads(policy)
        append(directory / "allow.csv", ADVISORY_READ)
        again = release(committed, directory)
        wait_for(lambda: policy.version == again)
        assert rep_reads(policy)
    finally:
        watcher.stop()


def wait_for(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "the watcher did not follow the release in time"
        time.sleep(0.02)
