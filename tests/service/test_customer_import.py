"""Bulk intake: all or nothing, every bad row reported by line and column, idempotent by code,
duplicates refused and same phones flagged, through the CLI and the API."""

from __future__ import annotations

import csv
import hashlib
import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from archive.customers.importing import HEADER
from archive.customers.models import Customer, CustomerReviewFlag
from archive.customers.rowwork import PART
from archive.db import Database, make_engine
from archive.migrate import upgrade
from tests.processes import env_with, run
from tests.security.world import World, build_world
from tests.support import TEST_ENV, assert_problem

pytestmark = pytest.mark.slow
IMPORT = "/api/v1/customers/import"


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    data = tmp_path_factory.mktemp("import")
    engine = make_engine(f"sqlite:///{data / 'archive.db'}")
    upgrade(engine)
    try:
        world = build_world(Database(engine), data)
        world.data_dir = data  # type: ignore[attr-defined]
        yield world
    finally:
        engine.dispose()


def rows(n: int, *, start: int = 0, prefix: str = "C-IMP") -> list[dict[str, str]]:
    out = []
    for i in range(start, start + n):
        company = i % 2 == 0
        out.append({
            "code": f"{prefix}{i:05d}",
            "name": f"华{hashlib.sha256(str(i).encode()).hexdigest()[:8]}科技有限公司" if company else f"周{i}",
            "kind": "enterprise" if company else "individual", "department": "SALES", "owner": "sales_rep",
            "status": "active", "id_number": f"91320300MA{i:08d}" if company else f"3203021985{i:08d}",
            "tax_number": "", "phone": f"137{i:08d}", "email": f"buyer{i}@example.cn",
            "address": f"江苏省徐州市鼓楼区{i}号", "industry": "制造", "region": "徐州",
            "annual_volume": str(100_000 * (i % 200 + 1)), "credit_rating": ["AAA", "AA", "A", "BBB"][i % 4],
            "cooperation_since": f"{2000 + i % 25}-03-01",
        })
    return out


def to_csv(records: list[dict[str, str]], *, bom: bool = False) -> bytes:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=HEADER, lineterminator="\n")
    writer.writeheader()
    writer.writerows(records)
    return (("\ufeff" if bom else "") + buffer.getvalue()).encode()


def count(world: World, prefix: str) -> int:
    with world.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(Customer)
                                .where(Customer.code.like(prefix + "%"))).scalar_one())


def cli(world: World, path: Path, *args: str):  # type: ignore[no-untyped-def]
    env = env_with(ARCHIVE_DATA_DIR=str(world.data_dir), **TEST_ENV)  # type: ignore[attr-defined]
    env.pop("ARCHIVE_DATABASE_URL", None)
    return run("import", "customers", str(path), "--as", "department_head", *args, env=env)


def test_three_bad_rows_in_a_thousand_import_nothing_then_the_fixed_file_imports_once(world, tmp_path):
    good = rows(1000)
    bad = [dict(r) for r in good]
    bad[10]["phone"] = "call me"
    bad[500]["kind"] = "robot"
    bad[998]["cooperation_since"] = "2020-13-45"
    path = tmp_path / "customers.csv"
    path.write_bytes(to_csv(bad, bom=True))
    refused = cli(world, path)
    assert refused.returncode == 1, refused.stdout + refused.stderr
    reported = [line for line in refused.stderr.splitlines() if "│" in line and line.split("│")[1].strip().isdigit()]
    assert [line.split("│")[1].strip() for line in reported] == ["12", "502", "1000"]  # header is line 1
    assert {line.split("│")[2].strip() for line in reported} == {"phone", "kind", "cooperation_since"}
    assert count(world, "C-IMP") == 0

    path.write_bytes(to_csv(good, bom=True))
    done = cli(world, path)
    assert done.returncode == 0, done.stderr
    assert "imported 1000 new, 0 updated, 0 unchanged" in done.stdout
    assert count(world, "C-IMP") == 1000
    again = cli(world, path)
    assert again.returncode == 0 and "imported 0 new, 0 updated, 1000 unchanged" in again.stdout
    assert count(world, "C-IMP") == 1000

    found = world.api.post("/api/v1/customers/search", token=world.tokens["sales_rep"], purpose="sales_followup",
                           json={"phone": good[7]["phone"]}).json()["items"]
    assert [c["code"] for c in found] == ["C-IMP00007"] and found[0]["phone"] == good[7]["phone"]


def test_changed_values_need_update_and_become_corrections(world, tmp_path):
    base = rows(5, start=2000)
    path = tmp_path / "five.csv"
    path.write_bytes(to_csv(base))
    assert cli(world, path).returncode == 0
    base[1]["email"] = "new-address@example.cn"
    path.write_bytes(to_csv(base))
    refused = cli(world, path)
    assert refused.returncode == 1 and "--update" in refused.stderr
    updated = cli(world, path, "--update")
    assert updated.returncode == 0 and "1 updated, 4 unchanged" in updated.stdout
    base[2]["owner"] = "department_head"
    path.write_bytes(to_csv(base))
    assert "own step" in cli(world, path, "--update").stderr


def test_duplicates_are_refused_and_same_phones_flagged_in_an_import(world, tmp_path):
    existing = world.plain[world.targets[("sales_rep", "own")]]
    records = rows(3, start=3000)
    records[0]["id_number"] = existing["id_number"]  # the register has it: refused
    records[2]["id_number"] = records[1]["id_number"]  # twice in the file: refused
    path = tmp_path / "dups.csv"
    path.write_bytes(to_csv(records))
    refused = cli(world, path)
    assert refused.returncode == 1
    assert "already registered" in refused.stderr and "the same as line 3" in refused.stderr
    records = rows(2, start=3100)
    records[1]["phone"] = existing["phone"]
    path.write_bytes(to_csv(records))
    done = cli(world, path)
    assert done.returncode == 0 and "1 flagged for review" in done.stdout
    with world.engine.connect() as conn:
        reasons = conn.execute(select(CustomerReviewFlag.reason).join(Customer, Customer.id ==
                                                                      CustomerReviewFlag.customer_id)
                               .where(Customer.code == records[1]["code"])).scalars().all()
    assert reasons == ["same_phone"]


def test_a_file_longer_than_a_part_is_checked_as_one(world):
    """The importer checks and writes a file part by part (archive/customers/rowwork.PART rows);
    rows still meet every earlier row of the file, and a problem in a later part takes back
    the parts already written."""
    assert PART < 1200 <= 3 * PART
    token = world.tokens["department_head"]
    records = rows(1200, start=20000)
    bad = [dict(r) for r in records]
    bad[PART + 200]["id_number"] = bad[3]["id_number"]  # the file's line 5, in the first part
    bad[2 * PART + 100]["code"] = bad[100]["code"]  # line 102
    refused = world.api.post(IMPORT, token=token, purpose="sales_followup", content=to_csv(bad),
                             headers={"Content-Type": "text/csv"})
    errors = assert_problem(refused, 422)["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(PART + 202, "id_number"), (2 * PART + 102, "code")]
    assert "the same as line 5 of this file" in errors[0]["message"]
    assert "also on line 102" in errors[1]["message"]
    assert count(world, "C-IMP2") == 0  # the clean parts written before the refusal were taken back
    records[PART + 300]["phone"] = records[10]["phone"]  # flagged against a row of an earlier part
    done = world.api.post(IMPORT, token=token, purpose="sales_followup", content=to_csv(records),
                          headers={"Content-Type": "text/csv"})
    assert done.status_code == 200, done.text
    assert (done.json()["created"], done.json()["flagged"]) == (1200, 1)
    with world.engine.connect() as conn:
        flagged, other = conn.execute(select(CustomerReviewFlag.customer_id, CustomerReviewFlag.other_customer_id)
                                      .where(CustomerReviewFlag.reason == "same_phone")
                                      .order_by(CustomerReviewFlag.created_at.desc()).limit(1)).one()
        codes = dict(conn.execute(select(Customer.id, Customer.code).where(Customer.id.in_([flagged, other]))).all())
    assert (codes[flagged], codes[other]) == (records[PART + 300]["code"], records[10]["code"])


def test_names_with_nothing_to_compare_are_bad_rows(world):
    records = rows(3, start=30000)
    records[0]["name"] = "股份有限公司"  # an enterprise: only a legal form
    records[1]["name"] = "·"  # an individual: only punctuation
    refused = world.api.post(IMPORT, token=world.tokens["department_head"], purpose="sales_followup",
                             content=to_csv(records), headers={"Content-Type": "text/csv"})
    errors = assert_problem(refused, 422)["errors"]
    assert [(e["line"], e["field"]) for e in errors] == [(2, "name"), (3, "name")]


def test_scope_and_header_problems(world, tmp_path):
    records = rows(2, start=4000)
    records[0]["department"] = "FINANCE"
    records[1]["owner"] = "nobody"
    path = tmp_path / "scope.csv"
    path.write_bytes(to_csv(records))
    out = cli(world, path)
    assert out.returncode == 1 and "outside your department" in out.stderr and "no staff user" in out.stderr
    path.write_text("code,name\nC-1,x\n")
    assert "missing column" in cli(world, path).stderr
    path.write_bytes("\n".join([",".join(HEADER), "C-GBK1,张三"]).encode("gbk"))
    assert "--encoding gbk" in cli(world, path).stderr


def test_the_api_upload_reports_rows_as_problem_errors_and_is_audited(world):
    token = world.tokens["department_head"]
    records = rows(4, start=5000)
    records[3]["email"] = "nope"
    body = assert_problem(world.api.post(IMPORT, token=token, purpose="sales_followup", content=to_csv(records),
                                         headers={"Content-Type": "text/csv"}), 422)
    assert body["errors"] == [{"field": "email", "message": "an address like name@example.com", "line": 5}]
    records[3]["email"] = "fine@example.cn"
    ok = world.api.post(IMPORT, token=token, purpose="sales_followup", content=to_csv(records),
                        headers={"Content-Type": "text/csv"})
    assert ok.status_code == 200 and ok.json()["created"] == 4
    assert_problem(world.api.post(IMPORT, token=world.tokens["customer_service"], purpose="customer_service",
                                  content=to_csv(rows(1, start=5100)), headers={"Content-Type": "text/csv"}), 403)
    events = world.api.get("/api/v1/audit/events", token=world.tokens["compliance_officer"], purpose="audit",
                           params={"action": "customer.import", "limit": 50}).json()["items"]
    assert {e["decision"] for e in events} == {"allowed", "denied"}
    assert any(e["actor_name"] == "department_head" for e in events)
    assert "fine@example.cn" not in str(events)


def test_import_on_postgresql(committed_pg_engine, tmp_path):  # type: ignore[no-untyped-def]
    world = build_world(Database(committed_pg_engine), tmp_path)
    token = world.tokens["department_head"]
    records = rows(PART + 100, start=6000)  # two parts: the first is written before the second fails
    bad = [dict(r) for r in records]
    bad[PART + 50]["annual_volume"] = "many"
    refused = world.api.post(IMPORT, token=token, purpose="sales_followup", content=to_csv(bad),
                             headers={"Content-Type": "text/csv"})
    assert [e["line"] for e in assert_problem(refused, 422)["errors"]] == [PART + 52]
    assert count(world, "C-IMP") == 0
    for created, unchanged in ((PART + 100, 0), (0, PART + 100)):
        done = world.api.post(IMPORT, token=token, purpose="sales_followup", content=to_csv(records),
                              headers={"Content-Type": "text/csv"})
        assert done.status_code == 200, done.text
        assert (done.json()["created"], done.json()["unchanged"]) == (created, unchanged)
    assert count(world, "C-IMP") == PART + 100
