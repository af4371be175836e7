"""Registering customers: one record per company (same ID/tax number refused, same phone or a
near-identical name flagged), ownership within the caller's scope, and no plaintext at rest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import Engine, select

from archive.customers.models import CustomerReviewFlag
from archive.db import Database
from tests.security.world import World, build_world, sqlite_world
from tests.support import assert_problem

URL = "/api/v1/customers"
SEARCH = "/api/v1/customers/search"
PLANTED_ID = "320302198807154417"
PLANTED_PHONE = "13655501234"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with sqlite_world(tmp_path_factory.mktemp("intake")) as built:
        yield built


def register(world: World, who: str, **fields: object):  # type: ignore[no-untyped-def]
    body = {"kind": "individual", "name": "赵明远", **fields}
    return world.api.post(URL, token=world.tokens[who], purpose="sales_followup", json=body)


def test_a_rep_registers_a_customer_they_own_and_finds_it_by_id_and_phone(world):
    created = register(world, "sales_rep", id_number=PLANTED_ID, phone=PLANTED_PHONE, email="zhao@example.cn",
                       address="江苏省徐州市云龙区和平路8号", annual_volume="2500000", credit_rating="aa")
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["owner"] == "sales_rep" and body["department"] == "SALES" and body["status"] == "potential"
    assert body["phone"] == PLANTED_PHONE and body["id_number"].endswith("4417") and "*" in body["id_number"]
    assert body["code"].startswith("C-") and body["review_flags"] == []
    for query in ({"id_number": PLANTED_ID}, {"phone": "136-5550-1234"}):
        found = world.api.post(SEARCH, token=world.tokens["sales_rep"], purpose="sales_followup", json=query)
        assert [c["id"] for c in found.json()["items"]] == [body["id"]]


def test_the_same_id_number_is_refused_pointing_at_the_record_only_for_those_who_may_see_it(world):
    first = register(world, "sales_rep", id_number="11010519491231002X", phone="13700000001")
    assert first.status_code == 201
    again = assert_problem(register(world, "sales_rep", name="赵 明远", id_number="11010519491231002x"), 409)
    assert first.json()["code"] in again["detail"] and first.json()["id"] in again["detail"]
    hidden = assert_problem(register(world, "outsider", id_number="11010519491231002X"), 409)
    assert first.json()["code"] not in hidden["detail"] and "outside your scope" in hidden["detail"]
    as_tax = assert_problem(register(world, "sales_rep", kind="enterprise", name="北京某某贸易有限公司",
                                     tax_number="11010519491231002X"), 409)
    assert "already registered" in as_tax["detail"]
    denied = world.api.get("/api/v1/audit/events", token=world.tokens["compliance_officer"], purpose="audit",
                           params={"action": "customer.create", "decision": "denied", "limit": 500}).json()["items"]
    assert len(denied) >= 3 and "11010519491231002X" not in str(denied)


def test_the_same_phone_and_a_near_identical_company_name_are_flagged_not_refused(world):
    a = register(world, "sales_rep", kind="enterprise", name="徐州华宇重型机械有限公司", phone="0516-8888-1234")
    assert a.status_code == 201 and a.json()["review_flags"] == []
    same_phone = register(world, "sales_rep", name="钱多多", phone="051688881234")
    assert same_phone.status_code == 201
    assert [(f["reason"], f["code"]) for f in same_phone.json()["review_flags"]] == [("same_phone", a.json()["code"])]
    similar = register(world, "sales_rep", kind="enterprise", name="徐州华宇重型机械股份有限公司")
    flags = similar.json()["review_flags"]
    assert [f["reason"] for f in flags] == ["similar_name"] and flags[0]["score"] >= 92
    unrelated = register(world, "sales_rep", kind="enterprise", name="杭州西湖茶业有限公司")
    assert unrelated.json()["review_flags"] == []
    ids = [_uuid(same_phone.json()["id"]), _uuid(similar.json()["id"])]
    with world.engine.connect() as conn:
        stored = conn.execute(select(CustomerReviewFlag.reason).where(CustomerReviewFlag.customer_id.in_(ids)))
        assert sorted(stored.scalars()) == ["same_phone", "similar_name"]


def test_an_individual_with_the_same_name_is_flagged_by_the_name_index(world):
    first = register(world, "sales_rep", name="欧阳娜娜")
    second = register(world, "sales_rep", name=" 欧阳 娜娜 ")
    assert [(f["reason"], f["code"]) for f in second.json()["review_flags"]] == [("similar_name",
                                                                                 first.json()["code"])]


def _uuid(text: str):  # type: ignore[no-untyped-def]
    import uuid

    return uuid.UUID(text)


def test_ownership_stays_in_the_callers_scope(world):
    assert_problem(register(world, "sales_rep", owner="sales_rep_peer"), 403)
    assert_problem(register(world, "sales_rep", department="ELSEWHERE", owner="outsider"), 403)
    by_head = register(world, "department_head", owner="sales_rep")
    assert by_head.status_code == 201 and by_head.json()["owner"] == "sales_rep"
    assert_problem(world.api.post(URL, token=world.tokens["finance"], purpose="credit_review",
                                  json={"kind": "individual", "name": "孙"}), 403)
    assert_problem(world.api.post(URL, token=world.tokens["sales_rep"], json={"kind": "individual", "name": "孙"}),
                   400)


def test_bad_records_name_every_problem_and_register_nothing(world):
    before = world.api.get(URL, token=world.tokens["sales_rep"], purpose="sales_followup",
                           params={"limit": 500}).json()["items"]
    body = assert_problem(register(world, "sales_rep", kind="robot", name="", id_number="123",
                                   email="not-an-address", annual_volume="lots", cooperation_since="2031-99-01"),
                          422)
    assert {e["field"] for e in body["errors"]} >= {"kind", "name", "id_number", "email", "annual_volume",
                                                    "cooperation_since"}
    after = world.api.get(URL, token=world.tokens["sales_rep"], purpose="sales_followup",
                          params={"limit": 500}).json()["items"]
    assert len(after) == len(before)


@pytest.mark.parametrize(("kind", "name"), [("enterprise", "有限公司"), ("institution", "***"), ("individual", "· ·")])
def test_a_name_with_nothing_to_compare_is_refused(world, kind, name):
    """A duplicate check needs letters or digits: a company name that is only a legal form or
    punctuation, or an individual's that is only punctuation, cannot meet the register."""
    body = assert_problem(register(world, "sales_rep", kind=kind, name=name), 422)
    assert [e["field"] for e in body["errors"]] == ["name"]
    assert "nothing left to compare" in body["errors"][0]["message"]


def test_the_sqlite_file_holds_neither_the_id_number_nor_the_phone(world):
    register(world, "sales_rep", name="李планted", id_number="320302199001011236", phone="13912340000")
    path = Path(str(world.engine.url.database))
    world.engine.dispose()  # checkpoint nothing away: the WAL is read too
    raw = b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
    for planted in ("320302199001011236", "13912340000", PLANTED_ID, PLANTED_PHONE):
        assert planted.encode() not in raw
        assert planted.encode("utf-16-le") not in raw


def test_the_postgresql_table_dump_holds_neither(committed_pg_engine: Engine, tmp_path: Path) -> None:
    world = build_world(Database(committed_pg_engine), tmp_path)
    created = register(world, "sales_rep", id_number=PLANTED_ID, phone=PLANTED_PHONE)
    assert created.status_code == 201
    url = committed_pg_engine.url.set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(url) as conn, conn.cursor() as cur:
        dump = b""
        for table in ("customers", "customer_corrections", "audit_events", "data_keys"):
            with cur.copy(f"COPY {table} TO STDOUT") as copy:
                dump += b"".join(bytes(chunk) for chunk in copy)
    assert created.json()["id"].encode() in dump  # the dump is real
    for planted in (PLANTED_ID, PLANTED_PHONE):
        assert planted.encode() not in dump


def test_the_department_head_reviews_possible_duplicates(world):
    first = register(world, "sales_rep", kind="enterprise", name="常州龙城精密化工有限公司", phone="0519-8555-0101")
    second = register(world, "sales_rep", kind="enterprise", name="常州龙城精密化工股份有限公司")
    assert second.json()["review_flags"]
    head = world.tokens["department_head"]
    pending = world.api.get("/api/v1/customers/review-flags", token=head, purpose="sales_followup").json()["items"]
    mine = [f for f in pending if f["code"] == second.json()["code"]]
    assert len(mine) == 1 and mine[0]["reason"] == "similar_name" and mine[0]["other"]["code"] == first.json()["code"]
    outsider = world.api.get("/api/v1/customers/review-flags", token=world.tokens["outsider"],
                             purpose="sales_followup").json()["items"]
    assert second.json()["code"] not in {f["code"] for f in outsider}
    url = f"/api/v1/customers/review-flags/{mine[0]['id']}/resolve"
    assert_problem(world.api.post(url, token=world.tokens["sales_rep"], purpose="sales_followup",
                                  json={"outcome": "distinct"}), 403)
    done = world.api.post(url, token=head, purpose="sales_followup",
                          json={"outcome": "duplicate", "note": "same licence holder; end the later record"})
    assert done.status_code == 200 and done.json()["outcome"] == "duplicate"
    assert_problem(world.api.post(url, token=head, purpose="sales_followup", json={"outcome": "distinct"}), 409)
    decided = world.api.get("/api/v1/customers/review-flags", token=head, purpose="sales_followup",
                            params={"resolved": "true"}).json()["items"]
    assert any(f["id"] == mine[0]["id"] and f["resolved_by"] == "department_head" for f in decided)


def test_a_code_already_taken_is_a_conflict_not_an_error(world):
    first = register(world, "sales_rep", code="C-TAKEN-1", name="郑一")
    assert first.status_code == 201
    again = assert_problem(register(world, "sales_rep", code="C-TAKEN-1", name="郑二"), 409)
    assert "C-TAKEN-1" in again["detail"]
