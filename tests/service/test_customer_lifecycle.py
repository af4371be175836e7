"""Status, owner and grade change only through their own audited steps: the lifecycle moves
along its transitions with a reason; the department head assigns owners; the history names
who, when and why; suspended and ended customers leave the active register (DOMAIN.md)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.security.world import World, sqlite_world
from tests.support import assert_problem


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with sqlite_world(tmp_path_factory.mktemp("lifecycle")) as built:
        yield built


def step(world: World, who: str, customer, to: str, reason: str = "visited; orders resumed", **kw):  # type: ignore[no-untyped-def]
    return world.api.post(f"/api/v1/customers/{customer}/status", token=world.tokens[who],
                          purpose=kw.pop("purpose", "sales_followup"), json={"status": to, "reason": reason}, **kw)


def listed(world: World, who: str, purpose: str = "sales_followup", **params: str) -> set[str]:
    response = world.api.get("/api/v1/customers", token=world.tokens[who], purpose=purpose,
                             params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return {c["id"] for c in response.json()["items"]}


def test_the_lifecycle_moves_along_its_transitions_with_reasons(world):
    own = world.targets[("sales_rep", "own")]
    etag = world.api.get(f"/api/v1/customers/{own}", token=world.tokens["sales_rep"],
                         purpose="sales_followup").headers["etag"]
    moved = step(world, "sales_rep", own, "stagnant", headers={"If-Match": etag})
    assert moved.status_code == 200 and moved.json()["status"] == "stagnant"
    assert moved.headers["etag"] != etag
    assert_problem(step(world, "sales_rep", own, "target", headers={"If-Match": etag}), 412)
    assert "can go to" in assert_problem(step(world, "sales_rep", own, "potential"), 409)["detail"]
    assert_problem(step(world, "sales_rep", own, "active", reason=" "), 422)
    assert_problem(step(world, "sales_rep", own, "dormant"), 422)
    assert step(world, "sales_rep", own, "suspended", reason="payment dispute").status_code == 200
    assert str(own) not in listed(world, "sales_rep")
    assert str(own) in listed(world, "sales_rep", register="inactive")
    assert step(world, "sales_rep", own, "active", reason="dispute settled").status_code == 200
    assert str(own) in listed(world, "sales_rep")
    history = world.api.get(f"/api/v1/customers/{own}/history", token=world.tokens["sales_rep"],
                            purpose="sales_followup").json()
    assert [(c["from"], c["to"], c["by"]) for c in history["status_changes"]] == [
        ("active", "stagnant", "sales_rep"), ("stagnant", "suspended", "sales_rep"),
        ("suspended", "active", "sales_rep")]
    assert history["status_changes"][1]["reason"] == "payment dispute"


def test_an_ended_relationship_ends_for_good(world):
    peer = world.targets[("department_head", "department")]  # owned by the head's colleague
    assert step(world, "department_head", peer, "ended", reason="company dissolved").status_code == 200
    assert "none" in assert_problem(step(world, "department_head", peer, "active"), 409)["detail"]


def test_who_may_take_a_lifecycle_step(world):
    other = world.targets[("sales_rep", "other")]
    assert "POST /api/v1/loans" not in assert_problem(step(world, "sales_rep", other, "stagnant"), 403)["detail"]
    assert_problem(step(world, "customer_service", world.targets[("customer_service", "own")], "stagnant",
                        purpose="customer_service"), 403)
    assert_problem(step(world, "admin", other, "stagnant", purpose="customer_service"), 403)
    finance = step(world, "finance", world.targets[("finance", "own")], "suspended", purpose="register_review",
                   reason="February review: no orders since 2024")
    assert finance.status_code == 200
    assert_problem(step(world, "sales_rep", world.targets[("sales_rep", "own")], "stagnant", purpose=None), 400)


def test_the_head_assigns_owners_within_the_department_and_the_history_keeps_it(world):
    customer = world.targets[("sales_rep", "own")]
    url = f"/api/v1/customers/{customer}/owner"
    head = world.tokens["department_head"]
    moved = world.api.post(url, token=head, purpose="sales_followup",
                           json={"owner": "sales_rep_peer", "reason": "sales_rep moves to key accounts"})
    assert moved.status_code == 200 and moved.json()["owner"] == "sales_rep_peer"
    assert_problem(world.api.get(f"/api/v1/customers/{customer}", token=world.tokens["sales_rep"],
                                 purpose="sales_followup"), 403)  # no longer theirs
    assert_problem(world.api.post(url, token=head, purpose="sales_followup",
                                  json={"owner": "outsider", "reason": "other department"}), 422)
    assert_problem(world.api.post(url, token=world.tokens["sales_rep_peer"], purpose="sales_followup",
                                  json={"owner": "sales_rep_peer", "reason": "mine now"}), 403)
    unowned = world.api.post(url, token=head, purpose="sales_followup",
                             json={"owner": None, "reason": "campaign pool"})
    assert unowned.status_code == 200 and unowned.json()["owner"] is None
    assert str(customer) in listed(world, "department_head", owner="-")
    back = world.api.post(url, token=head, purpose="sales_followup", json={"owner": "sales_rep", "reason": "back"})
    assert back.status_code == 200
    history = world.api.get(f"/api/v1/customers/{customer}/history", token=head, purpose="sales_followup").json()
    owners = [(c["field"], c["by"], c["reason"]) for c in history["changes"] if c["field"] == "owner"]
    assert owners == [("owner", "department_head", "sales_rep moves to key accounts"),
                      ("owner", "department_head", "campaign pool"), ("owner", "department_head", "back")]
    events = world.api.get("/api/v1/audit/events", token=world.tokens["compliance_officer"], purpose="audit",
                           params={"action": "customer.assign", "limit": 50}).json()["items"]
    assert {e["decision"] for e in events} == {"allowed", "denied"}


def test_list_filters_on_public_columns(world):
    everything = listed(world, "finance", purpose="credit_review", register="all")
    individuals = listed(world, "finance", purpose="credit_review", register="all", kind="individual")
    assert individuals == everything  # the world's customers are individuals
    assert listed(world, "finance", purpose="credit_review", register="all", kind="enterprise") == set()
    in_sales = listed(world, "finance", purpose="credit_review", register="all", department="SALES")
    assert in_sales and in_sales < everything
    assert listed(world, "finance", purpose="credit_review", department="NOWHERE") == set()
    assert listed(world, "finance", purpose="credit_review", owner="nobody-by-that-name") == set()
    assert_problem(world.api.get("/api/v1/customers", token=world.tokens["finance"], params={"department": "X"}),
                   400)
