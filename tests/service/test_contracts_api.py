"""The contract ledger through the HTTP API, in-process, on a committed archive
(tests/security/world.py): real tokens, the real gate and policy. Numbering per department and
year, the ledger each role sees, events, the two one-month hand-over steps, late steps (also as
the worker flags them) and the dossier checklist — each call allowed and refused, every refusal
found again in the access log. Expected outcomes are written by hand from DOMAIN.md ("Contracts",
"Who may read what") and API.md ("Order of checks"). The main flow runs on PostgreSQL too."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from dateutil.relativedelta import relativedelta
from sqlalchemy import Engine, func, insert, select

from archive.contracts.models import Contract, ContractCounter, ContractEvent
from archive.db import Database
from archive.identity.models import Department
from archive.jobs.models import JobRun
from archive.jobs.scheduler import REGISTRY, run_tick
from tests.security.world import World, build_world, sqlite_world
from tests.support import assert_problem

URL = "/api/v1/contracts"
FOLLOWUP = "sales_followup"
LEDGER = "contract_management"  # the credit manager's purpose
ARCHIVE = "archive_maintenance"  # the archivist's


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with sqlite_world(tmp_path_factory.mktemp("contracts")) as built:
        yield built


# --- helpers -------------------------------------------------------------------------------------
def today(world: World) -> date:
    """The business date in the company time zone, as the server sees it."""
    return datetime.now(world.api.app.state.ctx.settings.zone).date()


def customer(world: World, role: str, scope: str = "own") -> str:
    return str(world.targets[(role, scope)])


def create(world: World, who: str, customer_id: str, *, purpose: str | None = FOLLOWUP, title: str = "钢材供货合同",
           signed_on: date | None = None) -> httpx.Response:
    body: dict[str, Any] = {"customer_id": customer_id, "title": title}
    if signed_on is not None:
        body["signed_on"] = signed_on.isoformat()
    return world.api.post(URL, token=world.tokens[who], purpose=purpose, json=body)


def created(world: World, who: str, customer_id: str, **kw: Any) -> dict[str, Any]:
    response = create(world, who, customer_id, **kw)
    assert response.status_code == 201, response.text
    return dict(response.json())


def event(world: World, who: str, contract_id: str, kind: str, on: date | None = None, *,
          purpose: str | None = FOLLOWUP) -> httpx.Response:
    body = {"kind": kind, **({"occurred_on": on.isoformat()} if on else {})}
    return world.api.post(f"{URL}/{contract_id}/events", token=world.tokens[who], purpose=purpose, json=body)


def step(world: World, who: str, event_id: str, name: str, on: date | None = None, *,
         purpose: str | None = None) -> httpx.Response:
    purpose = purpose or {"credit_manager": LEDGER, "archivist": ARCHIVE}.get(who, FOLLOWUP)
    return world.api.post(f"{URL}/events/{event_id}/{name}", token=world.tokens[who], purpose=purpose,
                          json={"on": on.isoformat()} if on else {})


def ledger(world: World, who: str, purpose: str | None, **params: Any) -> httpx.Response:
    return world.api.get(URL, token=world.tokens[who], purpose=purpose, params={"limit": 500, **params})


def listed(world: World, who: str, purpose: str, **params: Any) -> list[dict[str, Any]]:
    response = ledger(world, who, purpose, **params)
    assert response.status_code == 200, response.text
    assert response.json()["next_cursor"] is None
    return list(response.json()["items"])


def read(world: World, who: str, contract_id: str, purpose: str | None = FOLLOWUP) -> httpx.Response:
    return world.api.get(f"{URL}/{contract_id}", token=world.tokens[who], purpose=purpose)


def walk(world: World, who: str, purpose: str, **params: Any) -> list[dict[str, Any]]:
    """Every page with `limit=1`, following `next_cursor`."""
    items: list[dict[str, Any]] = []
    cursor = None
    for _ in range(1000):
        page = ledger(world, who, purpose, **params, limit=1, **({"cursor": cursor} if cursor else {}))
        assert page.status_code == 200, page.text
        assert len(page.json()["items"]) <= 1
        items += page.json()["items"]
        cursor = page.json()["next_cursor"]
        if cursor is None:
            return items
    raise AssertionError("the cursor never ends")


def assert_denied_events(world: World, action: str, *refusals: httpx.Response) -> None:
    """Each refusal is an audit event with decision `denied` (API.md), found by a compliance
    officer in the access log, and the refused request left no allowed event."""
    seen: set[str] = set()
    cursor = None
    while True:
        page = world.api.get("/api/v1/audit/events", token=world.tokens["compliance_officer"], purpose="audit",
                             params={"action": action, "decision": "denied", "limit": 500,
                                     **({"cursor": cursor} if cursor else {})})
        assert page.status_code == 200, page.text
        seen |= {e["request_id"] for e in page.json()["items"]}
        assert all(e["decision"] == "denied" and e["action"] == action for e in page.json()["items"])
        cursor = page.json()["next_cursor"]
        if cursor is None:
            break
    for refusal in refusals:
        assert refusal.status_code in (400, 403, 404), refusal.text
        assert refusal.headers["x-request-id"] in seen, (refusal.status_code, refusal.text)
        assert world.decisions(refusal.headers["x-request-id"]) == {"denied"}


def contract_count(world: World) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Contract)).scalar_one())


def upload(world: World, who: str, customer_id: str, kind: str, contract_id: str | None, *,
           purpose: str = FOLLOWUP) -> httpx.Response:
    fields = {"kind": kind, **({"contract_id": contract_id} if contract_id else {})}
    return world.api.post(f"/api/v1/customers/{customer_id}/documents", token=world.tokens[who], purpose=purpose,
                          data=fields, files={"file": (f"{kind}.txt", f"{kind}: 合同档案\n".encode(), "text/plain")})


def one_month(start: date) -> date:
    """DOMAIN.md: within one month — the same day next month, or that month's last day."""
    result: date = start + relativedelta(months=1)
    return result


# --- numbering -----------------------------------------------------------------------------------
def test_a_rep_numbers_own_customers_contracts_per_department_and_year_and_refusals_take_no_number(world):
    year = today(world).year - 5  # a year no other test here signs in: the numbers start at 0001
    first = created(world, "sales_rep", customer(world, "sales_rep"), signed_on=date(year, 3, 2))
    assert first["number"] == f"SALES-{year}-0001"
    assert (first["department"], first["year"], first["handler"], first["status"]) == ("SALES", year, "sales_rep",
                                                                                       "signed")
    assert [(e["kind"], e["occurred_on"], e["handover_due"]) for e in first["events"]] == [
        ("signed", f"{year}-03-02", f"{year}-04-02")]
    before = contract_count(world)

    # Outside the rep's own customers: a colleague's in the same department, another department's.
    refused = [create(world, "sales_rep", customer(world, "sales_rep", scope), signed_on=date(year, 3, 3))
               for scope in ("department", "other")]
    for response in refused:
        body = assert_problem(response, 403)
        assert "outside your scope" in body["detail"]
    # Invalid contracts: refused before a number is taken.
    for title in ("", "   "):
        body = assert_problem(create(world, "sales_rep", customer(world, "sales_rep"), title=title,
                                     signed_on=date(year, 3, 4)), 422)
        assert [e["field"] for e in body["errors"]] == ["title"]
    body = assert_problem(create(world, "sales_rep", customer(world, "sales_rep"),
                                 signed_on=today(world) + timedelta(days=1)), 422)
    assert [e["field"] for e in body["errors"]] == ["signed_on"]
    assert contract_count(world) == before

    second = created(world, "sales_rep", customer(world, "sales_rep"), signed_on=date(year, 5, 6))
    assert second["number"] == f"SALES-{year}-0002"
    assert_denied_events(world, "contract.create", *refused)


def test_a_department_head_numbers_the_departments_contracts_signed_today_by_default(world):
    contract = created(world, "department_head", customer(world, "sales_rep", "department"))
    assert re.fullmatch(rf"SALES-{today(world).year}-\d{{4}}", contract["number"])
    assert contract["handler"] == "department_head" and contract["department"] == "SALES"
    assert contract["events"][0]["occurred_on"] == today(world).isoformat()
    assert contract["events"][0]["late"] is False
    outside = create(world, "department_head", customer(world, "department_head", "other"))
    assert_problem(outside, 403)
    assert_denied_events(world, "contract.create", outside)


def test_who_may_not_number_a_contract_is_refused_before_anything_is_looked_up(world):
    own = customer(world, "sales_rep")
    before = contract_count(world)
    missing, unknown = (create(world, "sales_rep", own, purpose=purpose) for purpose in (None, "gossip"))
    for response in (missing, unknown):
        assert FOLLOWUP in assert_problem(response, 400)["detail"]  # names the purposes the rep may use
    refusals = [missing, unknown]
    cells = [("sales_rep", "credit_review"),  # a purpose the role may not use
             ("sales_rep", "advisory"),  # a purpose of the role that does not fit the act
             ("finance", "register_review"), ("finance", "credit_review"), ("admin", FOLLOWUP),
             ("compliance_officer", "audit"), ("credit_manager", LEDGER), ("archivist", ARCHIVE),
             ("marketing", "reporting"), ("customer_service", "customer_service")]
    for who, purpose in cells:
        response = create(world, who, own, purpose=purpose)
        assert "C-M" not in assert_problem(response, 403)["detail"], (who, purpose)  # nothing was looked up
        refusals.append(response)
    # The customer login: the purpose steps come first, so 403 (not 404) and nothing about the record.
    no_purpose = create(world, "customer", customer(world, "customer"), purpose=None)
    assert_problem(no_purpose, 400)
    refusals.append(no_purpose)
    for purpose in ("data_subject_request", FOLLOWUP):
        response = create(world, "customer", customer(world, "customer"), purpose=purpose)
        assert "C-M" not in assert_problem(response, 403)["detail"]
        refusals.append(response)
    nobody = create(world, "sales_rep", str(uuid.uuid4()))
    assert_problem(nobody, 404)
    assert contract_count(world) == before
    assert_denied_events(world, "contract.create", *refusals, nobody)


# --- the ledger ----------------------------------------------------------------------------------
def test_the_ledger_shows_each_role_its_scope(world):
    mine = created(world, "sales_rep", customer(world, "sales_rep"))["id"]
    peers = created(world, "sales_rep_peer", customer(world, "sales_rep", "department"))["id"]
    heads = created(world, "department_head", customer(world, "department_head"))["id"]
    elsewhere = created(world, "outsider", customer(world, "sales_rep", "other"))["id"]
    everything = {mine, peers, heads, elsewhere}

    rep = listed(world, "sales_rep", FOLLOWUP)
    assert mine in {c["id"] for c in rep} and not {peers, heads, elsewhere} & {c["id"] for c in rep}
    assert {world.owners[uuid.UUID(c["customer_id"])] for c in rep} == {"sales_rep"}
    assert peers in {c["id"] for c in listed(world, "sales_rep_peer", FOLLOWUP)}
    head = listed(world, "department_head", FOLLOWUP)
    assert {mine, peers, heads} <= {c["id"] for c in head} and elsewhere not in {c["id"] for c in head}
    assert {c["department"] for c in head} == {"SALES"}
    for who, purpose in (("credit_manager", LEDGER), ("archivist", ARCHIVE), ("finance", "register_review")):
        assert everything <= {c["id"] for c in listed(world, who, purpose)}, who

    refusals = [ledger(world, who, purpose) for who, purpose in (
        ("marketing", "reporting"), ("marketing", "joint_marketing"), ("marketing", FOLLOWUP),
        ("credit_manager", "credit_review"), ("finance", "reporting"), ("general_manager", "reporting"),
        ("customer_service", "customer_service"), ("admin", FOLLOWUP), ("compliance_officer", "audit"),
        ("customer", "data_subject_request"), ("sales_rep", "advisory"))]
    for response in refusals:
        assert_problem(response, 403)
    no_purpose = ledger(world, "archivist", None)
    assert_problem(no_purpose, 400)
    assert_denied_events(world, "contract.list", *refusals, no_purpose)


def test_reading_one_contract_in_and_out_of_scope(world):
    contract = created(world, "sales_rep", customer(world, "sales_rep"))
    for who, purpose in (("sales_rep", FOLLOWUP), ("department_head", FOLLOWUP), ("credit_manager", LEDGER),
                         ("archivist", ARCHIVE), ("finance", "register_review")):
        response = read(world, who, contract["id"], purpose)
        assert response.status_code == 200, (who, response.text)
        assert response.json()["number"] == contract["number"]
    outside = [read(world, "sales_rep_peer", contract["id"]), read(world, "outsider", contract["id"])]
    for response in outside:
        assert "outside your scope" in assert_problem(response, 403)["detail"]
    refusals = [read(world, who, contract["id"], purpose) for who, purpose in (
        ("marketing", "reporting"), ("customer", "data_subject_request"), ("admin", FOLLOWUP),
        ("credit_manager", "collection"), ("customer_service", "customer_service"))]
    for response in refusals:
        assert contract["number"] not in assert_problem(response, 403)["detail"]
    nothing = read(world, "credit_manager", str(uuid.uuid4()), LEDGER)
    assert_problem(nothing, 404)
    assert_denied_events(world, "contract.read", *outside, *refusals, nothing)


def test_the_ledger_filters_by_year_status_and_department_and_pages_by_cursor(world):
    year = today(world).year - 3  # a year only this test signs in
    ours = [created(world, "sales_rep", customer(world, "sales_rep"), signed_on=date(year, month, 1))
            for month in (2, 4, 6)]
    theirs = created(world, "outsider", customer(world, "sales_rep", "other"), signed_on=date(year, 3, 1))
    assert event(world, "sales_rep", ours[1]["id"], "performed", date(year, 7, 1)).status_code == 201
    numbers = [f"SALES-{year}-0003", f"SALES-{year}-0002", f"SALES-{year}-0001"]
    assert [c["number"] for c in ours] == numbers[::-1] and theirs["number"] == f"ELSEWHERE-{year}-0001"

    def shown(who: str, purpose: str, **params: Any) -> list[str]:
        return [c["number"] for c in listed(world, who, purpose, year=year, **params)]

    assert shown("credit_manager", LEDGER) == [*numbers, theirs["number"]]  # by number, highest first
    assert shown("credit_manager", LEDGER, department="SALES") == numbers
    assert shown("credit_manager", LEDGER, department="ELSEWHERE") == [theirs["number"]]
    assert shown("credit_manager", LEDGER, department="NOSUCH") == []
    assert shown("credit_manager", LEDGER, status="performed") == [ours[1]["number"]]
    assert shown("credit_manager", LEDGER, status="signed") == [numbers[0], numbers[2], theirs["number"]]
    assert shown("sales_rep", FOLLOWUP) == numbers
    assert shown("sales_rep", FOLLOWUP, department="ELSEWHERE") == []
    assert shown("archivist", ARCHIVE, status="performed", department="SALES") == [ours[1]["number"]]
    assert listed(world, "credit_manager", LEDGER, year=year - 100) == []
    assert_problem(ledger(world, "credit_manager", LEDGER, status="lost"), 422)
    assert_problem(ledger(world, "credit_manager", LEDGER, limit=0), 422)

    assert [c["number"] for c in walk(world, "credit_manager", LEDGER, year=year)] == [*numbers, theirs["number"]]
    assert walk(world, "archivist", ARCHIVE) == listed(world, "archivist", ARCHIVE)
    assert walk(world, "sales_rep", FOLLOWUP) == listed(world, "sales_rep", FOLLOWUP)


def test_the_ledger_orders_sequences_as_numbers_past_9999(world):
    year = today(world).year - 8  # a year only this test signs in
    with world.engine.begin() as conn:
        sales = conn.execute(select(Department.id).where(Department.code == "SALES")).scalar_one()
        conn.execute(insert(ContractCounter).values(department_id=sales, year=year, last=9998))
    made = [created(world, "sales_rep", customer(world, "sales_rep"), signed_on=date(year, 5, 1))["number"]
            for _ in range(3)]
    assert made == [f"SALES-{year}-9999", f"SALES-{year}-10000", f"SALES-{year}-10001"]
    newest_first = made[::-1]
    assert [c["number"] for c in listed(world, "credit_manager", LEDGER, year=year)] == newest_first
    assert [c["number"] for c in walk(world, "credit_manager", LEDGER, year=year)] == newest_first
    assert_problem(ledger(world, "credit_manager", LEDGER, cursor="not-a-number"), 422)


# --- events --------------------------------------------------------------------------------------
def test_events_are_recorded_by_the_handlers_side_in_order(world):
    signed_on = today(world) - timedelta(days=20)
    contract = created(world, "sales_rep", customer(world, "sales_rep"), signed_on=signed_on)
    cid = contract["id"]
    refusals = [event(world, who, cid, "changed", purpose=purpose) for who, purpose in (
        ("credit_manager", LEDGER), ("archivist", ARCHIVE), ("finance", "register_review"),
        ("customer", "data_subject_request"), ("sales_rep", "advisory"))]
    for response in refusals:
        assert_problem(response, 403)
    outside = event(world, "sales_rep_peer", cid, "changed")
    assert_problem(outside, 403)
    no_purpose = event(world, "sales_rep", cid, "changed", purpose=None)
    assert_problem(no_purpose, 400)
    nothing = event(world, "sales_rep", str(uuid.uuid4()), "changed")
    assert_problem(nothing, 404)
    body = assert_problem(event(world, "sales_rep", cid, "changed", signed_on - timedelta(days=1)), 422)
    assert [e["field"] for e in body["errors"]] == ["occurred_on"]
    assert_problem(event(world, "sales_rep", cid, "changed", today(world) + timedelta(days=1)), 422)
    assert_problem(event(world, "sales_rep", cid, "signed"), 422)  # the signing is recorded at creation

    changed = event(world, "sales_rep", cid, "changed", signed_on + timedelta(days=3))
    assert changed.status_code == 201, changed.text
    assert changed.json()["handover_due"] == one_month(signed_on + timedelta(days=3)).isoformat()
    performed = event(world, "department_head", cid, "performed", signed_on + timedelta(days=10))
    assert performed.status_code == 201, performed.text
    assert read(world, "sales_rep", cid).json()["status"] == "performed"
    terminated = event(world, "sales_rep", cid, "terminated")
    assert terminated.status_code == 201 and terminated.json()["occurred_on"] == today(world).isoformat()
    for kind in ("changed", "performed", "terminated"):  # a terminated contract takes no further events
        assert "terminated" in assert_problem(event(world, "sales_rep", cid, kind), 409)["detail"]
    shown = read(world, "credit_manager", cid, LEDGER).json()
    assert [e["kind"] for e in shown["events"]] == ["signed", "changed", "performed", "terminated"]
    assert shown["status"] == "terminated"
    assert [c["status"] for c in listed(world, "sales_rep", FOLLOWUP) if c["id"] == cid] == ["terminated"]
    assert_denied_events(world, "contract.event", *refusals, outside, no_purpose, nothing)


# --- the hand-over steps -------------------------------------------------------------------------
def test_the_credit_manager_receives_the_dossier_and_either_side_records_the_archive(world):
    signed_on = today(world) - timedelta(days=10)
    first = created(world, "sales_rep", customer(world, "sales_rep"), signed_on=signed_on)["events"][0]["id"]
    second = created(world, "department_head", customer(world, "department_head"),
                     signed_on=signed_on)["events"][0]["id"]

    refusals = [step(world, who, first, name, purpose=purpose) for name in ("handover", "archive")
                for who, purpose in (("sales_rep", FOLLOWUP), ("department_head", FOLLOWUP),
                                     ("finance", "register_review"), ("marketing", "reporting"),
                                     ("credit_manager", "credit_review"), ("customer", "data_subject_request"))]
    for response in refusals:
        assert_problem(response, 403)
    no_purpose = world.api.post(f"{URL}/events/{first}/handover", token=world.tokens["credit_manager"], json={})
    assert_problem(no_purpose, 400)
    nothing = step(world, "credit_manager", str(uuid.uuid4()), "handover")
    assert_problem(nothing, 404)
    assert "hand-over" in assert_problem(step(world, "credit_manager", first, "archive"), 409)["detail"]
    assert_problem(step(world, "credit_manager", first, "handover", signed_on - timedelta(days=1)), 422)
    assert_problem(step(world, "credit_manager", first, "handover", today(world) + timedelta(days=1)), 422)

    handed = step(world, "credit_manager", first, "handover", signed_on + timedelta(days=2))
    assert handed.status_code == 200, handed.text
    assert handed.json()["handed_over_on"] == (signed_on + timedelta(days=2)).isoformat()
    assert handed.json()["archive_due"] == one_month(signed_on + timedelta(days=2)).isoformat()
    assert_problem(step(world, "credit_manager", first, "handover"), 409)
    handover_by_archive = step(world, "archivist", first, "handover")  # the archive does not receive from the handler
    assert_problem(handover_by_archive, 403)
    assert_problem(step(world, "archivist", first, "archive", signed_on + timedelta(days=1)), 422)
    archived = step(world, "archivist", first, "archive")
    assert archived.status_code == 200 and archived.json()["archived_on"] == today(world).isoformat()
    for who in ("archivist", "credit_manager"):
        assert_problem(step(world, who, first, "archive"), 409)

    # 004 §3: the credit manager receives the dossier; either side may record it reaching the archive.
    assert step(world, "credit_manager", second, "handover").status_code == 200
    assert step(world, "credit_manager", second, "archive").status_code == 200
    handover_refusals = refusals[:len(refusals) // 2]
    assert_denied_events(world, "contract.handover", *handover_refusals, handover_by_archive, no_purpose, nothing)
    assert_denied_events(world, "contract.archive", *refusals[len(refusals) // 2:])


# --- late steps ----------------------------------------------------------------------------------
def overdue(world: World, who: str = "credit_manager", purpose: str = LEDGER, **params: Any) -> dict[str, Any]:
    response = ledger(world, who, purpose, handover="overdue", **params)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    if body["next_cursor"] is None and "cursor" not in params:
        assert body["count"] == len(body["items"])
    return body


def late_of(world: World, event_id: str, **kw: Any) -> list[tuple[str, str, int]]:
    return [(i["step"], i["due_on"], i["days_late"]) for i in overdue(world, **kw)["items"]
            if i["event"]["id"] == event_id]


def run_overdue_job(world: World, tick: int) -> str:
    assert run_tick(world.db, str(tick), worker="test", jobs={"contracts.overdue": REGISTRY["contracts.overdue"]}
                    ) == ["contracts.overdue"]
    with world.engine.connect() as conn:
        run = conn.execute(select(JobRun.outcome, JobRun.detail)
                           .where(JobRun.job == "contracts.overdue", JobRun.tick == str(tick))).one()
    assert run.outcome == "done"
    return str(run.detail)


def flagged(world: World, event_id: str) -> bool:
    with world.engine.connect() as conn:
        return conn.execute(select(ContractEvent.overdue_flagged_at)
                            .where(ContractEvent.id == uuid.UUID(event_id))).scalar_one() is not None


def late_steps_flow(world: World) -> dict[str, Any]:
    """Create → late hand-over → hand-over done late → late archiving → archived: listed with
    `handover=overdue` while late, flagged by the worker's job, gone once archived."""
    now = today(world)
    signed_on = now - timedelta(days=75)
    contract = created(world, "sales_rep", customer(world, "sales_rep"), signed_on=signed_on)
    event_id = contract["events"][0]["id"]
    handover_due = one_month(signed_on)
    assert contract["events"][0]["late"] is True and contract["events"][0]["handover_due"] == handover_due.isoformat()

    assert late_of(world, event_id) == [("handover", handover_due.isoformat(), (now - handover_due).days)]
    assert (now - handover_due).days > 0
    assert late_of(world, event_id, who="sales_rep", purpose=FOLLOWUP) == late_of(world, event_id)
    assert late_of(world, event_id, who="department_head", purpose=FOLLOWUP) == late_of(world, event_id)
    assert late_of(world, event_id, who="archivist", purpose=ARCHIVE) == late_of(world, event_id)
    assert late_of(world, event_id, who="sales_rep_peer", purpose=FOLLOWUP) == []
    assert late_of(world, event_id, department="ELSEWHERE") == []
    assert overdue(world, department="SALES")["count"] >= 1
    refused = ledger(world, "marketing", "reporting", handover="overdue")
    assert_problem(refused, 403)
    assert_denied_events(world, "contract.list", refused)

    assert not flagged(world, event_id)
    assert re.fullmatch(r"\d+ late step\(s\), [1-9]\d* new", run_overdue_job(world, 1000))
    assert flagged(world, event_id)
    assert run_overdue_job(world, 1005).endswith(", 0 new")

    handed_on = now - timedelta(days=40)  # itself more than a month ago: the archiving step is late too
    handed = step(world, "credit_manager", event_id, "handover", handed_on)
    assert handed.status_code == 200, handed.text
    archive_due = one_month(handed_on)
    assert late_of(world, event_id) == [("archive", archive_due.isoformat(), (now - archive_due).days)]
    assert (now - archive_due).days > 0
    assert not flagged(world, event_id)  # the hand-over closed the flagged step
    assert re.fullmatch(r"\d+ late step\(s\), [1-9]\d* new", run_overdue_job(world, 1010))
    assert flagged(world, event_id)

    assert step(world, "archivist", event_id, "archive").status_code == 200
    assert late_of(world, event_id) == []
    assert event_id not in {i["event"]["id"] for i in walk(world, "credit_manager", LEDGER, handover="overdue")}
    shown = read(world, "sales_rep", contract["id"]).json()["events"][0]
    assert shown["late"] is False and shown["archived_on"] == now.isoformat()

    job_events = world.api.get("/api/v1/audit/events", token=world.tokens["compliance_officer"], purpose="audit",
                               params={"action": "contract.overdue"}).json()["items"]
    assert len(job_events) >= 2 and {e["actor_kind"] for e in job_events} == {"system"}
    return contract


def test_late_steps_are_listed_and_flagged_until_archived(world):
    late_steps_flow(world)


def test_late_steps_page_by_cursor_with_the_count_of_all(world):
    now = today(world)
    for days in (50, 90, 120):
        created(world, "sales_rep", customer(world, "sales_rep"), signed_on=now - timedelta(days=days))
    everything = overdue(world)
    assert everything["count"] >= 3
    first = ledger(world, "credit_manager", LEDGER, handover="overdue", limit=1).json()
    assert first["count"] == everything["count"] and len(first["items"]) == 1 and first["next_cursor"]
    walked = walk(world, "credit_manager", LEDGER, handover="overdue")
    assert [(i["event"]["id"], i["step"]) for i in walked] == [(i["event"]["id"], i["step"])
                                                               for i in everything["items"]]
    assert [i["due_on"] for i in walked] == sorted(i["due_on"] for i in walked)  # longest overdue first
    for garbage in ("not-a-cursor", f"{today(world).isoformat()}_nope"):
        body = assert_problem(ledger(world, "credit_manager", LEDGER, handover="overdue", cursor=garbage), 422)
        assert [e["field"] for e in body["errors"]] == ["cursor"]


# --- the dossier checklist -----------------------------------------------------------------------
def test_the_dossier_checklist_follows_the_documents_filed_under_the_contract(world):
    own = customer(world, "sales_rep")
    contract = created(world, "sales_rep", own)
    always = ["contract_original", "counterparty_licence", "representative_credentials"]
    assert contract["dossier"] == {"required": always, "present": [], "missing": always, "complete": False}

    def dossier(who: str = "sales_rep", purpose: str = FOLLOWUP) -> dict[str, Any]:
        response = read(world, who, contract["id"], purpose)
        assert response.status_code == 200, response.text
        return dict(response.json()["dossier"])

    loose = upload(world, "sales_rep", own, "contract_original", None)  # filed, but under no contract
    assert loose.status_code == 201 and loose.json()["contract_id"] is None
    other = created(world, "department_head", customer(world, "department_head"))
    wrong = assert_problem(upload(world, "sales_rep", own, "contract_original", other["id"]), 422)
    assert [e["field"] for e in wrong["errors"]] == ["contract_id"]
    assert dossier()["missing"] == always

    for n, kind in enumerate(always, start=1):
        filed = upload(world, "sales_rep", own, kind, contract["id"])
        assert filed.status_code == 201, filed.text
        assert filed.json()["contract_id"] == contract["id"]
        assert dossier()["present"] == always[:n]
    assert dossier() == {"required": always, "present": always, "missing": [], "complete": True}
    assert dossier("credit_manager", LEDGER)["complete"] is True
    assert dossier("archivist", ARCHIVE)["complete"] is True

    assert event(world, "sales_rep", contract["id"], "performed").status_code == 201
    later = ["goods_acceptance_record", "payment_voucher"]
    assert dossier() == {"required": always + later, "present": always, "missing": later, "complete": False}
    for kind in later:
        assert upload(world, "sales_rep", own, kind, contract["id"]).status_code == 201
    assert dossier()["complete"] is True and dossier()["missing"] == []


# --- PostgreSQL ----------------------------------------------------------------------------------
def test_the_main_flow_on_postgresql(committed_pg_engine: Engine, tmp_path: Path) -> None:
    world = build_world(Database(committed_pg_engine), tmp_path)
    contract = late_steps_flow(world)
    assert contract["number"] == f"SALES-{contract['year']}-0001"  # a fresh archive
    following = created(world, "sales_rep", customer(world, "sales_rep"), signed_on=date(contract["year"], 1, 1))
    assert following["number"] == f"SALES-{contract['year']}-0002"
    assert_problem(create(world, "sales_rep", customer(world, "sales_rep", "other")), 403)
    assert [c["id"] for c in listed(world, "credit_manager", LEDGER)] == [following["id"], contract["id"]]
    test_events_are_recorded_by_the_handlers_side_in_order(world)
