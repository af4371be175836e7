"""Break-glass: a compliance officer opens emergency access to one customer with a written
justification; it works, is flagged on every read, expires, waits in the review list, and is
reviewed by someone else (DOMAIN.md)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, update

from archive.breakglass.models import BreakGlass
from archive.db import Database, utcnow
from tests.security.world import World, build_world, sqlite_world
from tests.support import assert_problem

BG = "/api/v1/break-glass"
WHY = "Suspected leak of this customer's file reported by the branch on 28 Nov; checking what was read."


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with sqlite_world(tmp_path_factory.mktemp("breakglass")) as built:
        yield built


def officer(world: World, who: str = "compliance_officer") -> str:
    return world.tokens[who]


def events(world: World, **params: str) -> list[dict[str, object]]:
    response = world.api.get("/api/v1/audit/events", token=officer(world, "compliance_officer_peer"),
                             purpose="audit", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return list(response.json()["items"])


def test_without_break_glass_the_officer_is_refused_with_the_way_to_open_it(world):
    target = world.targets[("sales_rep", "own")]
    body = assert_problem(world.api.get(f"/api/v1/customers/{target}", token=officer(world), purpose="audit"), 403)
    assert "POST /api/v1/break-glass" in body["detail"]


def test_opening_needs_a_real_justification_and_a_compliance_officer(world):
    target = world.targets[("sales_rep", "own")]
    short = assert_problem(world.api.post(BG, token=officer(world), json={"customer_id": str(target),
                                                                          "justification": "urgent"}), 422)
    assert any(e["field"] == "justification" for e in short["errors"])
    too_long = world.api.post(BG, token=officer(world), json={"customer_id": str(target), "justification": WHY,
                                                              "minutes": 10_000})
    assert_problem(too_long, 422)
    for role in ("finance", "admin", "general_manager"):
        assert_problem(world.api.post(BG, token=world.tokens[role],
                                      json={"customer_id": str(target), "justification": WHY}), 403)
    denied = events(world, action="break_glass.opened", decision="denied")
    assert {e["actor_name"] for e in denied} >= {"finance", "admin", "general_manager"}
    missing = world.api.post(BG, token=officer(world), json={"customer_id": "0190a000-0000-7000-8000-0000000000ff",
                                                             "justification": WHY})
    assert_problem(missing, 404)


def test_break_glass_opens_reads_everything_flagged_expires_and_is_reviewed_by_someone_else(world):
    target = world.targets[("finance", "department")]
    other = world.targets[("finance", "own")]
    opened = world.api.post(BG, token=officer(world), json={"customer_id": str(target), "justification": WHY})
    assert opened.status_code == 201, opened.text
    glass = opened.json()
    assert glass["active"] and glass["justification"] == WHY
    assert timedelta(minutes=59) < _dt(glass["expires_at"]) - _dt(glass["opened_at"]) <= timedelta(minutes=60)
    assert_problem(world.api.post(BG, token=officer(world), json={"customer_id": str(target),
                                                                  "justification": WHY}), 409)

    read = world.api.get(f"/api/v1/customers/{target}", token=officer(world), purpose="audit")
    assert read.status_code == 200, read.text
    shown = read.json()
    plain = world.plain[target]
    assert all(shown[f] == plain[f] for f in ("id_number", "credit_rating", "savings", "insurance_balances"))
    # one customer only, and only reads of it
    assert_problem(world.api.get(f"/api/v1/customers/{other}", token=officer(world), purpose="audit"), 403)
    assert_problem(world.api.get("/api/v1/customers", token=officer(world), purpose="audit"), 403)
    flagged = [e for e in events(world, customer=str(target)) if e["action"] == "customer.read"
               and e["decision"] == "allowed"]
    assert flagged and all(e["break_glass"] for e in flagged)
    assert "justification" not in str(flagged) and WHY not in str(events(world, action="break_glass.opened"))

    # the review list, for another officer or the general manager
    listed = world.api.get(BG, token=world.tokens["general_manager"]).json()["items"]
    assert glass["id"] in {g["id"] for g in listed}
    assert_problem(world.api.get(BG, token=world.tokens["sales_rep"]), 403)
    own_review = world.api.post(f"{BG}/{glass['id']}/review", token=officer(world),
                                json={"outcome": "justified", "note": "mine"})
    assert_problem(own_review, 403)

    # expiry: the same read is refused once the hour has passed
    with world.engine.begin() as conn:
        conn.execute(update(BreakGlass).where(BreakGlass.customer_id == target)
                     .values(expires_at=utcnow() - timedelta(seconds=1)))
    assert_problem(world.api.get(f"/api/v1/customers/{target}", token=officer(world), purpose="audit"), 403)

    reviewed = world.api.post(f"{BG}/{glass['id']}/review", token=officer(world, "compliance_officer_peer"),
                              json={"outcome": "justified", "note": "leak inquiry INC-2026-11"})
    assert reviewed.status_code == 200, reviewed.text
    assert reviewed.json()["review_outcome"] == "justified"
    pending = world.api.get(BG, token=world.tokens["general_manager"]).json()["items"]
    assert glass["id"] not in {g["id"] for g in pending}
    assert_problem(world.api.post(f"{BG}/{glass['id']}/review", token=world.tokens["general_manager"],
                                  json={"outcome": "unjustified"}), 409)
    assert events(world, action="break_glass.reviewed", decision="allowed")


def test_closing_early_ends_access_and_the_review_closes_an_open_one(world):
    target = world.targets[("crm_manager", "own")]
    glass = world.api.post(BG, token=officer(world), json={"customer_id": str(target), "justification": WHY,
                                                          "minutes": 5}).json()
    assert world.api.get(f"/api/v1/customers/{target}", token=officer(world), purpose="audit").status_code == 200
    closed = world.api.post(f"{BG}/{glass['id']}/close", token=officer(world)).json()
    assert closed["closed_at"] and not closed["active"]
    assert_problem(world.api.get(f"/api/v1/customers/{target}", token=officer(world), purpose="audit"), 403)
    assert_problem(world.api.post(f"{BG}/{glass['id']}/close", token=officer(world, "compliance_officer_peer")), 404)

    again = world.api.post(BG, token=officer(world), json={"customer_id": str(target), "justification": WHY}).json()
    world.api.post(f"{BG}/{again['id']}/review", token=world.tokens["general_manager"],
                   json={"outcome": "unjustified", "note": "no incident on file"})
    assert_problem(world.api.get(f"/api/v1/customers/{target}", token=officer(world), purpose="audit"), 403)
    with world.engine.connect() as conn:
        row = conn.execute(select(BreakGlass).where(BreakGlass.id == _uuid(again["id"]))).one()
    assert row.closed_at is not None and row.review_outcome == "unjustified"


def test_break_glass_on_postgresql(committed_pg_engine: Engine, tmp_path: Path) -> None:
    world = build_world(Database(committed_pg_engine), tmp_path)
    target = world.targets[("sales_rep", "own")]
    glass = world.api.post(BG, token=officer(world), json={"customer_id": str(target), "justification": WHY})
    assert glass.status_code == 201, glass.text
    read = world.api.get(f"/api/v1/customers/{target}", token=officer(world), purpose="audit")
    assert read.status_code == 200 and read.json()["id_number"] == world.plain[target]["id_number"]
    assert all(e["break_glass"] for e in events(world, customer=str(target), action="customer.read"))


def _dt(text: str):  # type: ignore[no-untyped-def]
    from datetime import datetime

    return datetime.fromisoformat(text)


def _uuid(text: str):  # type: ignore[no-untyped-def]
    import uuid

    return uuid.UUID(text)
