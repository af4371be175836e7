"""Exact search through the blind index, corrections with If-Match and a sealed history, and the
customer's own record on /api/v1/me."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import select

from archive.customers.models import Customer, CustomerCorrection
from tests.security.world import World, sqlite_world
from tests.support import assert_problem

SEARCH = "/api/v1/customers/search"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with sqlite_world(tmp_path_factory.mktemp("corrections")) as built:
        yield built


def test_search_by_id_number_phone_and_email_in_any_spelling(world):
    rep = world.tokens["sales_rep"]
    own = world.targets[("sales_rep", "own")]
    plain = world.plain[own]
    phone = plain["phone"]
    spellings = [{"phone": phone}, {"phone": f"+86 {phone[:3]}-{phone[3:7]}-{phone[7:]}"},
                 {"id_number": plain["id_number"].lower()}, {"id_number": plain["tax_number"]},
                 {"email": plain["email"].upper()}]
    for body in spellings:
        found = world.api.post(SEARCH, token=rep, purpose="sales_followup", json=body)
        assert found.status_code == 200, (body, found.text)
        assert [c["id"] for c in found.json()["items"]] == [str(own)], body
    nothing = world.api.post(SEARCH, token=rep, purpose="sales_followup", json={"phone": "13000000000"})
    assert nothing.json()["items"] == []


def test_search_outside_scope_tells_a_borrower_how_many_and_where_to_ask(world):
    rep = world.tokens["sales_rep"]
    foreign = world.targets[("sales_rep", "other")]
    found = world.api.post(SEARCH, token=rep, purpose="sales_followup",
                           json={"phone": world.plain[foreign]["phone"]}).json()
    assert found["items"] == [] and found["outside_scope"] == 1 and "POST /api/v1/loans" in found["detail"]


def test_search_takes_exactly_one_identifier_in_the_body(world):
    rep = world.tokens["sales_rep"]
    for body in ({}, {"phone": "139", "email": "a@b.cn"}, {"name": "张伟"}):
        assert_problem(world.api.post(SEARCH, token=rep, purpose="sales_followup", json=body), 422)


def test_search_is_logged_with_a_lookup_token_not_the_identifier(world):
    co = world.tokens["compliance_officer"]
    own = world.targets[("sales_rep", "own")]
    phone = world.plain[own]["phone"]
    world.api.post(SEARCH, token=world.tokens["sales_rep"], purpose="sales_followup", json={"phone": phone})
    found = world.api.post("/api/v1/audit/lookup", token=co, purpose="audit", json={"kind": "phone", "value": phone})
    assert found.status_code == 200 and found.json()["appears"] is True
    export = world.api.get("/api/v1/audit/events", token=co, purpose="audit",
                           params={"format": "csv", "limit": 500, "action": "customer.search"})
    assert "customer.search" in export.text and phone not in export.text


def test_a_correction_needs_if_match_and_refuses_a_stale_version(world):
    token = world.tokens["customer_service"]
    target = world.targets[("customer_service", "own")]
    url = f"/api/v1/customers/{target}"
    read = world.api.get(url, token=token, purpose="customer_service")
    etag = read.headers["etag"]
    body = {"phone": "13812345678", "reason": "customer called to give a new number"}
    assert_problem(world.api.patch(url, token=token, purpose="customer_service", json=body), 428)
    changed = world.api.patch(url, token=token, purpose="customer_service", json=body, headers={"If-Match": etag})
    assert changed.status_code == 200, changed.text
    assert changed.json()["phone"] == "13812345678" and changed.headers["etag"] != etag
    stale = world.api.patch(url, token=token, purpose="customer_service", headers={"If-Match": etag},
                            json={"phone": "13900000000", "reason": "second edit from an old screen"})
    assert "changed since you read it" in assert_problem(stale, 412)["detail"]
    found = world.api.post(SEARCH, token=token, purpose="customer_service", json={"phone": "138-1234-5678"}).json()
    assert [c["id"] for c in found["items"]] == [str(target)]
    with world.engine.connect() as conn:
        history = conn.execute(select(CustomerCorrection).where(CustomerCorrection.customer_id == target)).all()
    assert [h.field for h in history] == ["phone"]
    assert history[0].previous_ct and world.plain[target]["phone"].encode() not in history[0].previous_ct
    assert history[0].reason == body["reason"] and history[0].purpose == "customer_service"


def test_owner_department_status_and_grade_are_not_corrections(world):
    token = world.tokens["customer_service"]
    target = world.targets[("customer_service", "department")]
    url = f"/api/v1/customers/{target}"
    etag = world.api.get(url, token=token, purpose="customer_service").headers["etag"]
    for field in ("owner", "department", "status", "grade", "code"):
        body = assert_problem(world.api.patch(url, token=token, purpose="customer_service",
                                              headers={"If-Match": etag}, json={field: "x", "reason": "r"}), 422)
        assert body["errors"][0]["field"] == field
    no_reason = world.api.patch(url, token=token, purpose="customer_service", headers={"If-Match": etag},
                                json={"email": "new@example.cn"})
    assert_problem(no_reason, 422)


def test_a_purpose_corrects_only_what_it_shows_in_clear(world):
    token = world.tokens["customer_service"]
    target = world.targets[("customer_service", "department")]
    url = f"/api/v1/customers/{target}"
    etag = world.api.get(url, token=token, purpose="customer_service").headers["etag"]
    for field in ("id_number", "credit_rating"):  # masked and omitted under customer_service
        body = assert_problem(world.api.patch(url, token=token, purpose="customer_service", headers={
            "If-Match": etag}, json={field: "AAA", "reason": "try"}), 403)
        assert field in body["detail"]
    with world.engine.connect() as conn:
        assert conn.execute(select(Customer.version).where(Customer.id == target)).scalar_one() == int(etag.strip('"'))


def test_the_customer_reads_its_own_record_on_me_without_a_purpose(world):
    mine = world.api.get("/api/v1/me", token=world.tokens["customer"])
    assert mine.status_code == 200, mine.text
    own = world.targets[("customer", "own")]
    assert mine.json()["id"] == str(own) and mine.json()["id_number"] == world.plain[own]["id_number"]
    assert_problem(world.api.get("/api/v1/me", token=world.tokens["sales_rep"]), 404)
    other = world.targets[("customer", "other")]
    assert_problem(world.api.get(f"/api/v1/customers/{other}", token=world.tokens["customer"],
                                 purpose="data_subject_request"), 404)


def test_identity_verification_and_risk_level_are_set_by_the_purposes_that_see_them(world):
    target = world.targets[("customer_service", "department")]
    url = f"/api/v1/customers/{target}"

    def patch(who: str, purpose: str, body: dict[str, str]):  # type: ignore[no-untyped-def]
        etag = world.api.get(url, token=world.tokens[who], purpose=purpose).headers["etag"]
        return world.api.patch(url, token=world.tokens[who], purpose=purpose, headers={"If-Match": etag},
                               json={**body, "reason": "identification process"})

    verified = patch("customer_service", "customer_service", {"verification_status": "verified"})
    assert verified.status_code == 200 and verified.json()["verification_status"] == "verified"
    assert_problem(patch("customer_service", "customer_service", {"risk_level": "low"}), 403)
    assessed = patch("finance", "credit_review", {"risk_level": "high"})
    assert assessed.status_code == 200 and assessed.json()["risk_level"] == "high"
    body = assert_problem(patch("finance", "credit_review", {"risk_level": "extreme"}), 422)
    assert body["errors"][0]["field"] == "risk_level"


def test_a_shredded_customer_is_gone_for_good_with_a_clear_problem(world):
    target = world.targets[("crm_manager", "department")]
    ring = world.api.app.state.ctx.key_ring
    assert ring.destroy_deks(target) >= 1
    token = world.tokens["crm_manager"]
    body = assert_problem(world.api.get(f"/api/v1/customers/{target}", token=token, purpose="customer_service"), 410)
    assert str(target) not in body["detail"]
    etag = "*"  # any version: the record cannot be read any more
    assert_problem(world.api.patch(f"/api/v1/customers/{target}", token=token, purpose="customer_service",
                                   headers={"If-Match": etag}, json={"phone": "13800000000", "reason": "r"}), 410)
