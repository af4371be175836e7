"""The compliance officer's view: purpose `audit` required, refusals logged, search, verify,
lookup by audit-key HMAC, CSV export, published checkpoint keys."""

from __future__ import annotations

import pytest

from audit.chain import integrate_batch
from tests.support import add_user, assert_problem

EVENTS = "/api/v1/audit/events"


@pytest.fixture
def officer(api, ctx):
    add_user(ctx, username="co", roles=["compliance_officer"], department="AUDIT")
    add_user(ctx, username="rep", roles=["sales_rep"], department="SALES")
    return api.token("co")


def test_missing_and_unknown_purpose_are_400_naming_audit(api, officer):
    for purpose in (None, "curiosity"):
        body = assert_problem(api.get(EVENTS, token=officer, purpose=purpose), 400)
        assert "audit" in body["detail"]


def test_other_purposes_and_other_roles_are_403_and_logged(api, officer):
    assert_problem(api.get(EVENTS, token=officer, purpose="reporting"), 403)
    assert_problem(api.get(EVENTS, token=api.token("rep"), purpose="audit"), 403)
    denied = api.get(EVENTS, token=officer, purpose="audit", params={"decision": "denied"}).json()["items"]
    assert {e["action"] for e in denied} >= {"audit.read"}
    assert {e["actor_name"] for e in denied if e["action"] == "audit.read"} == {"co", "rep"}


def test_search_by_actor_and_action_and_paginate(api, officer):
    api.token("rep")
    api.login("rep", "wrong password")
    api.get(EVENTS, token=officer, purpose="audit")
    page = api.get(EVENTS, token=officer, purpose="audit", params={"actor": "co", "limit": 1}).json()
    assert len(page["items"]) == 1 and page["next_cursor"]
    rest = api.get(EVENTS, token=officer, purpose="audit",
                   params={"actor": "co", "cursor": page["next_cursor"]}).json()
    assert rest["items"] and all(e["actor_name"] == "co" for e in rest["items"])
    assert page["items"][0]["id"] not in {e["id"] for e in rest["items"]}
    failed = api.get(EVENTS, token=officer, purpose="audit", params={"action": "auth.login.failed"}).json()
    assert failed["items"] and all(e["decision"] == "denied" for e in failed["items"])


def test_a_failed_login_is_found_by_lookup_but_the_username_is_not_stored(api, officer, ctx):
    api.login("mallory-guess", "whatever")
    found = api.post("/api/v1/audit/lookup", token=officer, purpose="audit",
                     json={"kind": "username", "value": "mallory-guess"}).json()
    assert found["appears"] is True
    missing = api.post("/api/v1/audit/lookup", token=officer, purpose="audit",
                       json={"kind": "username", "value": "nobody-tried-this"}).json()
    assert missing["appears"] is False
    export = api.get(EVENTS, token=officer, purpose="audit", params={"format": "csv", "limit": 500})
    assert export.headers["content-type"].startswith("text/csv")
    assert "mallory-guess" not in export.text and "auth.login.failed" in export.text


def test_verify_and_checkpoints(api, officer, ctx):
    with ctx.db.unit_of_work() as uow:
        integrate_batch(uow.session.connection())
    report = api.get("/api/v1/audit/verify", token=officer, purpose="audit")
    assert report.status_code == 200
    assert report.json()["ok"] is True
    assert api.get("/api/v1/audit/checkpoints", token=officer, purpose="audit").status_code == 200
    keys = api.get("/api/v1/audit/public-keys")  # public: verifying needs no token
    assert keys.status_code == 200 and "BEGIN PUBLIC KEY" in next(iter(keys.json().values()))


def test_a_cursor_the_list_did_not_give_is_422_and_the_log_is_read_only_under_audit(api, officer):
    body = assert_problem(api.get(EVENTS, token=officer, purpose="audit", params={"cursor": "yesterday"}), 422)
    assert body["errors"][0]["field"] == "cursor"
    for path in ("/api/v1/audit/verify", "/api/v1/audit/checkpoints", "/api/v1/audit/unusual"):
        assert_problem(api.get(path, token=api.token("rep"), purpose="audit"), 403)
        assert api.get(path, token=officer, purpose="audit").status_code == 200
    unusual = api.get("/api/v1/audit/unusual", token=officer, purpose="audit", params={"threshold": 1}).json()
    assert unusual["next_cursor"] is None and isinstance(unusual["items"], list)
