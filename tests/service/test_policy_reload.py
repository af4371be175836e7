"""A policy release reaches every worker of a running `archive serve` without a restart: the
decisions change in both workers, new audit events carry the new policy version, and invalid
files are refused with nothing changed. Plus the administrator's policy calls in-process."""

from __future__ import annotations

import time

import httpx
import pytest

from archive.policy import policy_version
from tests.archive.policy.policyfiles import append, copy_policies, replace
from tests.processes import env_with, run, serving
from tests.support import add_user, assert_problem, make_context

PASSWORD = "demo-password-for-tests"
ADVISORY_READS = ("p, sales_rep, advisory, customer.read, standard, own, allow\n",
                  "p, sales_rep, advisory, customer.list, standard, own, allow\n")
UNKNOWN_ACTION = "p, sales_rep, advisory, customer.fly, standard, own, allow\n"


def withdraw_advisory_reads(directory):
    for rule in ADVISORY_READS:
        replace(directory / "allow.csv", rule, "")


# --- the real process ---------------------------------------------------------------------------------
@pytest.fixture(params=["sqlite", "postgresql"])
def deployment(request, tmp_path):
    """Seeded demo data and a policy directory of its own (a copy of policies/), polled every 0.5 s."""
    policies = copy_policies(tmp_path)
    env = env_with(ARCHIVE_DATA_DIR=str(tmp_path / "data"), ARCHIVE_DEMO_PASSWORD=PASSWORD,
                   ARCHIVE_ENV="development", ARCHIVE_POLICY_DIR=str(policies), ARCHIVE_POLICY_POLL_SECONDS="0.5")
    env.pop("ARCHIVE_DATABASE_URL", None)
    env.pop("ARCHIVE_JWT_SECRET", None)
    if request.param == "postgresql":  # a database of its own: the processes really commit
        env["ARCHIVE_DATABASE_URL"] = request.getfixturevalue("committed_pg_engine").url.render_as_string(
            hide_password=False)
    seeded = run("demo", "--no-serve", env=env)
    assert seeded.returncode == 0, seeded.stderr
    return env, policies


def token(base: str, username: str) -> dict[str, str]:
    answer = httpx.post(base + "/api/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert answer.status_code == 200, answer.text
    return {"Authorization": f"Bearer {answer.json()['access_token']}"}


def statuses(base: str, rep: dict[str, str], path: str, times: int) -> list[int]:
    """`times` reads, each on a new connection, so both workers answer some of them."""
    return [httpx.get(base + path, headers={**rep, "X-Purpose": "advisory"}).status_code for _ in range(times)]


def audit_events(base: str, officer: dict[str, str], **filters: object) -> list[dict[str, object]]:
    answer = httpx.get(base + "/api/v1/audit/events", params={"limit": 500, **filters},
                       headers={**officer, "X-Purpose": "audit"})
    assert answer.status_code == 200, answer.text
    items: list[dict[str, object]] = answer.json()["items"]
    return items


def reloads(base: str, officer: dict[str, str], version: str, *, workers: int) -> set[object]:
    """The processes that recorded switching to `version`, waiting until `workers` of them did."""
    deadline = time.monotonic() + 15
    while True:
        done = {e["resource_id"] for e in audit_events(base, officer, action="policy.reloaded")
                if e["policy_version"] == version}
        if len(done) >= workers or time.monotonic() > deadline:
            return done
        time.sleep(0.2)


@pytest.mark.slow
def test_a_release_changes_decisions_in_both_workers_without_a_restart(deployment, tmp_path):
    env, policies = deployment
    before = policy_version(policies)
    with serving(env, workers=2, log=tmp_path / "serve.log") as base:
        rep, officer, admin = (token(base, name) for name in ("sales_rep", "compliance_officer", "admin"))
        listed = httpx.get(base + "/api/v1/customers", params={"limit": 1}, headers={**rep, "X-Purpose": "advisory"})
        assert listed.status_code == 200, listed.text
        path = f"/api/v1/customers/{listed.json()['items'][0]['id']}"
        assert set(statuses(base, rep, path, 10)) == {200}

        withdraw_advisory_reads(policies)
        time.sleep(1.5)  # three polls: an edit that is not released changes nothing
        assert set(statuses(base, rep, path, 10)) == {200}
        released = run("policy", "release", "--note", "advisory reads withdrawn", env=env)
        assert released.returncode == 0, released.stderr
        version = policy_version(policies)
        assert version != before and f"Released policy {version}" in released.stdout and "0.5 s" in released.stdout

        assert len(reloads(base, officer, version, workers=2)) == 2  # both worker processes switched
        assert statuses(base, rep, path, 30) == [403] * 30
        listed_now = httpx.get(base + "/api/v1/customers", params={"limit": 1},
                               headers={**rep, "X-Purpose": "advisory"})
        assert listed_now.status_code == 403
        reads = audit_events(base, officer, action="customer.read", actor="sales_rep")
        assert [(e["decision"], e["policy_version"]) for e in reads[:30]] == [("denied", version)] * 30
        assert {(e["decision"], e["policy_version"]) for e in reads[30:]} == {("allowed", before)}
        (release_event,) = audit_events(base, officer, action="policy.released")
        assert release_event["policy_version"] == version and release_event["actor_kind"] == "system"
        state = httpx.get(base + "/api/v1/admin/policy", headers=admin).json()
        assert state["loaded_version"] == state["files_version"] == state["released"]["version"] == version
        assert state["current"] and state["files_released"]
        ready = httpx.get(base + "/readyz").json()
        assert ready["policy"] == {"version": version, "current": True, "release_table_readable": True}

        append(policies / "allow.csv", UNKNOWN_ACTION)  # invalid: refused, nothing changes
        refused = run("policy", "release", env=env)
        assert refused.returncode == 1 and "customer.fly" in refused.stderr
        assert "nothing was released" in refused.stderr
        status = run("policy", "status", env=env)
        assert status.returncode == 1 and f"Released: {version}" in status.stdout
        time.sleep(1.5)
        assert set(statuses(base, rep, path, 10)) == {403}
        state = httpx.get(base + "/api/v1/admin/policy", headers=admin).json()
        assert state["loaded_version"] == state["released"]["version"] == version
        assert state["current"] and not state["files_released"]
        assert httpx.get(base + "/readyz").json()["policy"]["current"] is True  # still deciding with the release
        assert len(audit_events(base, officer, action="policy.released")) == 1
        assert len(audit_events(base, officer, action="policy.reloaded")) == 2
    log = (tmp_path / "serve.log").read_text()
    assert log.count("policy.reloaded") == 2 and "Traceback" not in log
    assert PASSWORD not in log and rep["Authorization"].split()[1] not in log


# --- the administrator's calls, in-process -------------------------------------------------------------
def test_only_an_administrator_reads_and_releases_the_policy(db, tmp_path):
    from service.app import create_app
    from tests.support import ApiClient

    policies = copy_policies(tmp_path)
    ctx = make_context(db, tmp_path / "data", ARCHIVE_POLICY_DIR=str(policies))
    api = ApiClient(create_app(ctx))
    add_user(ctx, username="root", roles=["admin"])
    add_user(ctx, username="rep", roles=["sales_rep"], department="SALES")
    admin, rep = api.token("root"), api.token("rep")
    assert_problem(api.get("/api/v1/admin/policy", token=rep), 403)
    assert_problem(api.post("/api/v1/admin/policy/releases", token=rep, json={}), 403)

    state = api.get("/api/v1/admin/policy", token=admin).json()
    assert state["released"] is None and state["current"] and state["files_released"]
    assert state["loaded_version"] == state["files_version"] == policy_version(policies)

    append(policies / "allow.csv", UNKNOWN_ACTION)
    refused = assert_problem(api.post("/api/v1/admin/policy/releases", token=admin, json={"note": "x"}), 422)
    assert any("customer.fly" in e["message"] and e["field"].startswith("allow.csv:") for e in refused["errors"])
    assert api.get("/api/v1/admin/policy", token=admin).json()["released"] is None

    replace(policies / "allow.csv", UNKNOWN_ACTION, "")
    withdraw_advisory_reads(policies)
    created = api.post("/api/v1/admin/policy/releases", token=admin, json={"note": "advisory reads withdrawn"})
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["version"] == policy_version(policies) and body["released_by"] == "root" and body["warnings"] == []
    assert_problem(api.post("/api/v1/admin/policy/releases", token=admin, json={}), 409)
    state = api.get("/api/v1/admin/policy", token=admin).json()
    assert state["released"]["version"] == body["version"] == state["files_version"]
    assert not state["current"]  # no watcher runs in-process: this app still holds what it loaded
