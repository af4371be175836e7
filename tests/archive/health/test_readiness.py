"""`/readyz` proves the database takes writes with a scratch row of its own, read back in a unit
of work — never an event in the chained access log — and says what is not ready."""

from __future__ import annotations

from sqlalchemy import func, select, text

from archive.health.models import ReadinessProbe
from archive.health.service import process_name
from audit.tables import events
from tests.support import assert_problem


def _count(ctx, what) -> int:  # type: ignore[no-untyped-def]
    with ctx.db.unit_of_work() as uow:
        return int(uow.session.scalar(select(func.count()).select_from(what)) or 0)


def test_ready_writes_a_scratch_row_and_never_the_access_log(api, ctx):
    before = _count(ctx, events)
    for _ in range(3):
        response = api.get("/readyz")
        assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "ready"
    assert body["checks"] == {"database": "ok", "migrations": "ok", "audit_log": "ok", "keys": "ok"}
    assert body["policy"]["version"] == ctx.policy.version
    assert _count(ctx, events) == before  # not even a rolled-back event: nothing to chain
    with ctx.db.unit_of_work() as uow:
        mine = uow.session.scalars(select(ReadinessProbe).where(ReadinessProbe.process == process_name())).all()
    assert len(mine) == 1  # each check replaces the process's earlier row: the table stays tiny


def test_a_database_that_refuses_writes_is_not_ready(api, ctx):
    with ctx.db.unit_of_work() as uow:
        conn = uow.session.connection()
        if conn.dialect.name == "postgresql":
            conn.execute(text("CREATE FUNCTION refuse_probe() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"))
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON readiness_probe "
                              "FOR EACH ROW EXECUTE FUNCTION refuse_probe()"))
        else:
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON readiness_probe "
                              "BEGIN SELECT RAISE(ABORT, 'disk full'); END"))
    body = assert_problem(api.get("/readyz"), 503)
    assert body["checks"]["database"].startswith("not writable")
    assert "disk full" not in str(body)  # the kind of error, never its text
    assert api.get("/healthz").status_code == 200  # alive all the same


def test_missing_keys_are_not_ready(api, ctx):
    for path in ctx.settings.keys_dir.glob("kek-*"):
        path.unlink()
    body = assert_problem(api.get("/readyz"), 503)
    assert body["checks"]["keys"].startswith("unavailable")
    assert body["checks"]["database"] == "ok"
