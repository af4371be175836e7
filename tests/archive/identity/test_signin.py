"""Signing in: the same failure for unknown, wrong and disabled; each attempt audited; and two
units of work on purpose — the attempt before the password is hashed, its outcome after — so
no transaction (on SQLite: no write lock) is held while Argon2 runs."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from archive.db import Database, UnitOfWork, make_engine
from archive.errors import AuthenticationFailed
from archive.identity.passwords import Passwords
from archive.identity.repository import IdentityRepository
from archive.identity.service import IdentityService, LoginAttempt, SignInService
from archive.migrate import upgrade
from audit.tables import events
from tests.support import PASSWORD, add_user, make_context


def sign_in(ctx, username: str, password: str = PASSWORD, passwords: Passwords | None = None):  # type: ignore[no-untyped-def]
    with ctx.db.session_factory() as session:
        service = SignInService(UnitOfWork(session), passwords or ctx.passwords, ctx.throttle, ctx.tokens,
                                ctx.audit_lookup, policy_version=ctx.policy.version)
        return service.sign_in(LoginAttempt(username, password, "10.0.0.1", "req-1"))


def login_events(ctx) -> list[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    with ctx.db.session_factory() as session:
        rows = session.execute(select(events.c.action, events.c.actor_name, events.c.lookup_hmacs)
                               .where(events.c.action.like("auth.login%")).order_by(events.c.occurred_us)).all()
    return [tuple(r) for r in rows]


def test_the_same_failure_for_unknown_wrong_and_disabled_each_audited(ctx):
    user = add_user(ctx, username="rep", roles=["sales_rep"], department="SALES")
    signed = sign_in(ctx, "rep")
    assert signed.user_id == user.id and ctx.tokens.verify(signed.access_token).subject == str(user.id)
    messages = set()
    for username, password in [("rep", "wrong password"), ("ghost", PASSWORD)]:
        with pytest.raises(AuthenticationFailed) as caught:
            sign_in(ctx, username, password)
        messages.add(caught.value.detail)
    with ctx.db.unit_of_work() as uow:
        identity = IdentityService(IdentityRepository(uow.session), ctx.passwords)
        identity.set_disabled(identity.get_user(user.id), True)
    with pytest.raises(AuthenticationFailed) as caught:
        sign_in(ctx, "rep")
    messages.add(caught.value.detail)
    assert len(messages) == 1
    logged = login_events(ctx)
    assert [a for a, _, _ in logged] == ["auth.login"] + ["auth.login.failed"] * 3
    assert logged[0][1] == "rep"
    # a failed attempt names the username only by its keyed hash
    assert all(name == "" and hmacs and "ghost" not in hmacs for _, name, hmacs in logged[1:])


class _Watching(Passwords):
    """Real Argon2; before each verification, `during` runs (as another client would)."""

    def __init__(self, during, **parameters: int) -> None:  # type: ignore[no-untyped-def]
        super().__init__(**parameters)
        self.during = during

    def verify(self, stored_hash: str | None, password: str) -> bool:
        self.during()
        return super().verify(stored_hash, password)


@pytest.fixture
def committed_sqlite(tmp_path: Path) -> Engine:
    engine = make_engine(f"sqlite:///{tmp_path / 'signin.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


def test_no_write_lock_is_held_while_the_password_is_hashed(committed_sqlite, tmp_path):
    ctx = make_context(Database(committed_sqlite), tmp_path)
    add_user(ctx, username="rep", roles=["sales_rep"], department="SALES")
    taken = []

    def another_writer() -> None:
        other = sqlite3.connect(committed_sqlite.url.database, timeout=0)
        try:
            other.execute("BEGIN IMMEDIATE")  # fails at once ("database is locked") under a held write lock
            taken.append(True)
            other.execute("ROLLBACK")
        finally:
            other.close()

    signed = sign_in(ctx, "rep", passwords=_Watching(another_writer, **ctx.passwords.parameters))
    assert taken == [True] and signed.access_token
    assert [a for a, _, _ in login_events(ctx)] == ["auth.login"]


@pytest.mark.parametrize("database", ["sqlite", "postgresql"])
def test_a_password_changed_while_hashing_is_refused(database, request, tmp_path):
    engine = request.getfixturevalue("committed_sqlite" if database == "sqlite" else "committed_pg_engine")
    ctx = make_context(Database(engine), tmp_path)
    user = add_user(ctx, username="rep", roles=["sales_rep"], department="SALES")

    def administrator_resets_the_password() -> None:
        with ctx.db.unit_of_work() as uow:
            identity = IdentityService(IdentityRepository(uow.session), ctx.passwords)
            identity.set_password(identity.get_user(user.id), "a brand new password")

    with pytest.raises(AuthenticationFailed):
        sign_in(ctx, "rep", passwords=_Watching(administrator_resets_the_password, **ctx.passwords.parameters))
    assert [a for a, _, _ in login_events(ctx)] == ["auth.login.failed"]
    assert sign_in(ctx, "rep", "a brand new password").user_id == user.id
