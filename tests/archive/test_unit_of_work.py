"""The unit of work is the one owner of a transaction: it commits when its block ends, rolls
back when it raises, writes a refusal's event through one path, and runs what waits on the
commit only once the commit happened (SQLite and PostgreSQL)."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from archive.db import Database, UnitOfWork
from archive.errors import Forbidden
from archive.identity.models import Department


def _count(db: Database) -> int:
    with db.session_factory() as session:
        return session.scalar(select(func.count()).select_from(Department)) or 0


def test_a_block_that_ends_commits_and_then_runs_what_waited_on_the_commit(db: Database) -> None:
    before, seen = _count(db), []
    with db.session_factory() as session, UnitOfWork(session) as uow:
        session.add(Department(code="UOW-A", name="A"))
        uow.after_commit(lambda: seen.append(_count(db)))
        assert seen == []  # nothing runs before the commit
    assert seen == [before + 1]


def test_a_block_that_raises_leaves_nothing_and_runs_nothing(db: Database) -> None:
    before, seen = _count(db), []

    def act() -> None:
        with db.session_factory() as session, UnitOfWork(session) as uow:
            session.add(Department(code="UOW-B", name="B"))
            uow.after_commit(lambda: seen.append("minted"))
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        act()
    assert _count(db) == before and seen == []


def test_a_refusal_rolls_back_the_act_and_commits_only_its_own_record(db: Database) -> None:
    before = _count(db)
    refusal = Forbidden("not yours")
    refusal.outlives_rollback = lambda session: session.add(Department(code="UOW-EVENT", name="the event"))

    def act() -> None:
        with db.session_factory() as session, UnitOfWork(session):
            session.add(Department(code="UOW-ACT", name="the refused act"))
            raise refusal

    with pytest.raises(Forbidden):
        act()
    with db.session_factory() as session:
        codes = set(session.scalars(select(Department.code).where(Department.code.like("UOW-%"))))
    assert "UOW-EVENT" in codes and "UOW-ACT" not in codes and _count(db) == before + 1


def test_a_failed_commit_runs_nothing_that_waited_on_it(db: Database) -> None:
    with db.session_factory() as session, UnitOfWork(session):
        session.add(Department(code="UOW-DUP", name="first"))
    seen: list[str] = []

    def act() -> None:
        with db.session_factory() as session, UnitOfWork(session) as uow:
            session.add(Department(code="UOW-DUP", name="second"))
            uow.after_commit(lambda: seen.append("minted"))

    with pytest.raises(IntegrityError):
        act()
    assert seen == []


def test_a_unit_is_not_re_entered_while_open(db: Database) -> None:
    with db.session_factory() as session:
        uow = UnitOfWork(session)
        with uow, pytest.raises(RuntimeError, match="not re-entered"), uow:
            pass
        with pytest.raises(RuntimeError):
            uow.after_commit(lambda: None)
