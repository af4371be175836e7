"""Logs carry no password or token; throttling treats known and unknown users alike and
never locks out a correct login from another address."""

from __future__ import annotations

import pytest
import structlog

from tests.support import PASSWORD, add_user, assert_problem


@pytest.fixture
def rep(ctx):
    return add_user(ctx, username="rep", roles=["sales_rep"], department="SALES")


def test_logs_of_login_and_failed_login_hold_no_secret(api, rep):
    with structlog.testing.capture_logs() as logs:
        token = api.token("rep")
        api.login("rep", "wrong-password-123")
        api.get("/api/v1/users/me", token=token)
    text = repr(logs)
    assert logs, "nothing was logged"
    assert any(e["event"] == "auth.login.failed" for e in logs)
    assert PASSWORD not in text and "wrong-password-123" not in text
    assert token not in text and token.split(".")[1] not in text


def test_wrong_password_and_unknown_user_look_the_same(api, rep):
    wrong = assert_problem(api.login("rep", "not the password"), 401)
    unknown = assert_problem(api.login("nobody", "not the password"), 401)
    assert wrong == unknown


@pytest.mark.parametrize("username", ["rep", "no-such-user"])
def test_throttled_after_repeated_failures_known_or_unknown(api, rep, username):
    for _ in range(5):
        assert api.login(username, "bad guess", client="10.9.9.9").status_code == 401
    response = api.login(username, "bad guess", client="10.9.9.9")
    assert_problem(response, 429)
    assert int(response.headers["retry-after"]) > 0
    # Even the right password waits while the window is exhausted from that address…
    assert api.login("rep", PASSWORD, client="10.9.9.9").status_code == (429 if username == "rep" else 200)
    # …but a correct login from another address still succeeds.
    assert api.login("rep", PASSWORD, client="10.1.1.1").status_code == 200


def test_one_address_cannot_lock_everyone_out(api, ctx, rep):
    add_user(ctx, username="other", roles=["finance"], department="FIN")
    for i in range(30):
        api.login(f"guess-{i}", "bad guess", client="10.6.6.6")
    assert_problem(api.login("other", PASSWORD, client="10.6.6.6"), 429)  # that address is slowed
    assert api.login("other", PASSWORD, client="10.7.7.7").status_code == 200  # others are not
