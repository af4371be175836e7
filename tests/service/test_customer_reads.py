"""Governed customer reads against a real `archive serve` on the demo data: purpose required,
scope by ownership, masking by purpose, admin sees nothing, and every refusal is logged."""

from __future__ import annotations

import httpx
import pytest

from tests.processes import env_with, run, serving

pytestmark = pytest.mark.slow
PASSWORD = "demo-password-for-tests"


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    data = tmp_path_factory.mktemp("demo") / "data"
    env = env_with(ARCHIVE_DATA_DIR=str(data), ARCHIVE_DEMO_PASSWORD=PASSWORD, ARCHIVE_ENV="development")
    env.pop("ARCHIVE_DATABASE_URL", None)
    assert run("demo", "--no-serve", env=env).returncode == 0
    with serving(env, log=data.parent / "serve.log") as base:
        yield base
    for opened in OPEN:
        opened.close()


OPEN: list[httpx.Client] = []


def client(base: str, username: str) -> httpx.Client:
    token = httpx.post(base + "/api/v1/auth/token", data={"username": username, "password": PASSWORD}).json()
    OPEN.append(httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token['access_token']}"}))
    return OPEN[-1]


def test_owner_reads_in_clear_what_the_purpose_admits_and_identity_masked(demo):
    rep = client(demo, "sales_rep")
    own = rep.get("/api/v1/customers", params={"limit": 500}, headers={"X-Purpose": "sales_followup"}).json()
    assert own["items"] and all(c["owner"] == "sales_rep" for c in own["items"])
    one = rep.get(f"/api/v1/customers/{own['items'][0]['id']}", headers={"X-Purpose": "sales_followup"}).json()
    assert one["phone"] and "*" not in one["phone"]
    assert one["id_number"].startswith("*") and one["credit_rating"] is None
    head = client(demo, "department_head").get("/api/v1/customers", params={"limit": 500},
                                               headers={"X-Purpose": "sales_followup"}).json()
    assert len(head["items"]) > len(own["items"])


def test_refusals_in_the_order_of_checks(demo):
    rep = client(demo, "sales_rep")
    missing = rep.get("/api/v1/customers")
    assert missing.status_code == 400 and "sales_followup" in missing.json()["detail"]
    assert rep.get("/api/v1/customers", headers={"X-Purpose": "nonsense"}).status_code == 400
    assert rep.get("/api/v1/customers", headers={"X-Purpose": "credit_review"}).status_code == 403
    others = client(demo, "department_head").get("/api/v1/customers", params={"limit": 500},
                                                 headers={"X-Purpose": "sales_followup"}).json()["items"]
    foreign = next(c for c in others if c["owner"] != "sales_rep")
    outside = rep.get(f"/api/v1/customers/{foreign['id']}", headers={"X-Purpose": "sales_followup"})
    assert outside.status_code == 403 and "POST /api/v1/loans" in outside.json()["detail"]
    admin = client(demo, "admin").get(f"/api/v1/customers/{foreign['id']}", headers={"X-Purpose": "customer_service"})
    assert admin.status_code in (403, 404)
    co = client(demo, "compliance_officer")
    denied = co.get("/api/v1/audit/events", params={"decision": "denied", "actor": "sales_rep", "limit": 500},
                    headers={"X-Purpose": "audit"}).json()["items"]
    assert len(denied) >= 4
    reads = co.get("/api/v1/audit/events", params={"customer": foreign["id"], "limit": 500},
                   headers={"X-Purpose": "audit"}).json()["items"]
    assert any(e["actor_name"] == "sales_rep" and e["decision"] == "denied" for e in reads)
