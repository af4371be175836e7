"""If the access log cannot be written, the act does not happen and the caller gets 503."""

from __future__ import annotations

from sqlalchemy import text

from tests.support import add_user, assert_problem


def break_the_audit_log(ctx) -> None:
    """Make every audit insert fail, inside the test's transaction (rolled back afterwards)."""
    with ctx.db.unit_of_work() as uow:
        conn = uow.session.connection()
        if conn.dialect.name == "postgresql":
            conn.execute(text("CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql AS "
                              "$$ BEGIN RAISE EXCEPTION 'disk full'; END $$"))
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON audit_events "
                              "FOR EACH ROW EXECUTE FUNCTION refuse_audit()"))
        else:
            conn.execute(text("CREATE TRIGGER refuse BEFORE INSERT ON audit_events "
                              "BEGIN SELECT RAISE(ABORT, 'disk full'); END"))


def test_act_rolls_back_and_503_when_the_audit_insert_fails(api, ctx):
    add_user(ctx, username="root", roles=["admin"], department="IT")
    token = api.token("root")
    break_the_audit_log(ctx)
    body = assert_problem(api.post("/api/v1/departments", token=token, json={"code": "LOST", "name": "Lost"}), 503)
    assert "nothing was done" in body["detail"]
    assert "disk full" not in str(body)
    codes = [d["code"] for d in api.get("/api/v1/departments", token=token).json()["items"]]
    assert "LOST" not in codes
    # The failure is per request: the service still answers what needs no audit event.
    assert api.get("/healthz").status_code == 200


def test_a_login_is_refused_when_its_event_cannot_be_written(api, ctx):
    add_user(ctx, username="rep", roles=["sales_rep"], department="SALES")
    break_the_audit_log(ctx)
    assert_problem(api.login("rep"), 503)
