"""Break-glass rules through the real service, database and policy: who opens and who reviews is
policy data (a changed permissions file changes who may), every act is one unit of work with its
event, and a refusal leaves its denied event and nothing else."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import select

from archive.auditing import Auditor, actor_of
from archive.breakglass.models import BreakGlass, ReviewOutcome
from archive.breakglass.repository import BreakGlassRepository
from archive.breakglass.service import BreakGlassService
from archive.customers.models import Customer
from archive.db import UnitOfWork, new_id
from archive.errors import Conflict, Forbidden, InvalidInput, NotFound
from archive.identity.principal import Principal
from archive.identity.service import principal_of
from archive.policy import PolicyEngine
from audit.tables import events
from tests.archive.policy.policyfiles import append, copy_policies
from tests.support import add_user

WHY = "The branch reported a suspected leak of this file on 28 Nov; checking who read it."


@pytest.fixture
def people(ctx) -> dict[str, Principal]:  # type: ignore[no-untyped-def]
    cast = [("officer", "compliance_officer", "AUDIT"), ("peer", "compliance_officer", "AUDIT"),
            ("gm", "general_manager", "GM"), ("fin", "finance", "FIN")]
    return {name: principal_of(add_user(ctx, username=name, roles=[role], department=dept))
            for name, role, dept in cast}


@pytest.fixture
def customer(ctx, people) -> uuid.UUID:  # type: ignore[no-untyped-def]
    with ctx.db.unit_of_work() as uow:
        row = Customer(id=new_id(), code="C-BG1", kind="enterprise", status="active",
                       department_id=people["fin"].department_id)
        uow.session.add(row)
    return row.id


def desk(ctx, who: Principal, policy: PolicyEngine | None = None) -> BreakGlassService:  # type: ignore[no-untyped-def]
    return BreakGlassService(UnitOfWork(ctx.db.session_factory()), policy or ctx.policy,
                             Auditor(actor_of(who), policy_version=(policy or ctx.policy).version))


def logged(ctx, action: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    with ctx.db.session_factory() as session:
        rows = session.execute(select(events.c.actor_name, events.c.decision).where(events.c.action == action)
                               .order_by(events.c.occurred_us))
        return [tuple(r) for r in rows]


def rows(ctx) -> list[BreakGlass]:  # type: ignore[no-untyped-def]
    with ctx.db.session_factory() as session:
        return list(session.scalars(select(BreakGlass)))


def test_opening_is_the_officers_and_a_refusal_leaves_only_its_event(ctx, people, customer):
    for name in ("fin", "gm"):
        with pytest.raises(Forbidden):
            desk(ctx, people[name]).open(people[name], customer, WHY)
    assert rows(ctx) == []
    assert logged(ctx, "break_glass.opened") == [("fin", "denied"), ("gm", "denied")]
    opened = desk(ctx, people["officer"]).open(people["officer"], customer, WHY, minutes=30)
    assert opened.active(opened.opened_at) and opened.justification == WHY
    assert logged(ctx, "break_glass.opened")[-1] == ("officer", "allowed")
    with ctx.db.session_factory() as session:
        lookup = BreakGlassRepository(session).is_open  # what a service hands the gate
        assert lookup(people["officer"].id, customer) and not lookup(people["peer"].id, customer)


def test_who_may_open_and_review_comes_from_the_policy_files(ctx, people, customer, tmp_path):
    d = copy_policies(tmp_path)
    append(d / "permissions.csv", "p, finance, *, break_glass.open, *, none, allow\n")
    append(d / "deny.csv", "p, general_manager, *, break_glass.review, *, none, deny\n")
    policy = PolicyEngine(d)
    opened = desk(ctx, people["fin"], policy).open(people["fin"], customer, WHY)
    with pytest.raises(Forbidden):
        desk(ctx, people["gm"], policy).review(people["gm"], opened.id, ReviewOutcome.JUSTIFIED, "")
    reviewed = desk(ctx, people["peer"], policy).review(people["peer"], opened.id, ReviewOutcome.JUSTIFIED, "ok")
    assert reviewed.reviewed_by == people["peer"].id


def test_a_justification_a_bounded_time_a_customer_and_one_at_a_time(ctx, people, customer):
    officer = people["officer"]
    with pytest.raises(InvalidInput) as caught:
        desk(ctx, officer).open(officer, customer, "urgent", minutes=10_000)
    assert {e.field for e in caught.value.errors} == {"justification", "minutes"}
    with pytest.raises(NotFound):
        desk(ctx, officer).open(officer, new_id(), WHY)
    desk(ctx, officer).open(officer, customer, WHY)
    with pytest.raises(Conflict):
        desk(ctx, officer).open(officer, customer, WHY)
    assert len(rows(ctx)) == 1 and logged(ctx, "break_glass.opened") == [("officer", "allowed")]


def test_nobody_reviews_their_own_and_a_review_ends_the_access(ctx, people, customer):
    officer, gm = people["officer"], people["gm"]
    opened = desk(ctx, officer).open(officer, customer, WHY)
    assert [r.id for r in desk(ctx, gm).pending(gm)] == [opened.id]
    with pytest.raises(Forbidden):
        desk(ctx, people["fin"]).pending(people["fin"])
    with pytest.raises(Forbidden):
        desk(ctx, officer).review(officer, opened.id, ReviewOutcome.JUSTIFIED, "mine")
    assert logged(ctx, "break_glass.reviewed") == [("fin", "denied"), ("officer", "denied")]
    reviewed = desk(ctx, gm).review(gm, opened.id, ReviewOutcome.UNJUSTIFIED, " no incident on file ")
    assert reviewed.closed_at is not None and reviewed.review_note == "no incident on file"
    with pytest.raises(Conflict):
        desk(ctx, people["peer"]).review(people["peer"], opened.id, ReviewOutcome.JUSTIFIED, "")
    assert desk(ctx, gm).pending(gm) == []
    with ctx.db.session_factory() as session:
        assert not BreakGlassRepository(session).is_open(officer.id, customer)


def test_only_the_officer_closes_their_own(ctx, people, customer):
    opened = desk(ctx, people["officer"]).open(people["officer"], customer, WHY)
    with pytest.raises(NotFound):
        desk(ctx, people["peer"]).close(people["peer"], opened.id)
    closed = desk(ctx, people["officer"]).close(people["officer"], opened.id)
    assert closed.closed_at is not None
    assert logged(ctx, "break_glass.closed") == [("officer", "allowed")]
