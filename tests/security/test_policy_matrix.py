"""Every role x purpose x scope x action cell of the access policy, through the HTTP API with
real tokens, against the hand-written expectations in expected_matrix.csv / expected_views.csv.

Each cell asserts the status, which fields are clear, masked or omitted, and that the request
left an audit event with the matching decision. All cells run on SQLite; a sample on PostgreSQL.
"""

from __future__ import annotations

import csv
import itertools
import time
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

import pytest
from sqlalchemy import Engine

from archive.db import Database
from archive.policy import PolicyEngine
from archive.vocabulary import Purpose, Role
from tests.security.world import SCOPES, World, build_world
from tests.security.world import sqlite_world as committed_sqlite_world

HERE = Path(__file__).parent
ACTIONS = ("read", "list", "search", "update", "content_basic", "content_credit", "content_contract", "status",
           "assign")
CONTENT = {"content_basic": "visit_report", "content_credit": "credit_application",
           "content_contract": "contract_original"}
PURPOSES = (*[p.value for p in Purpose], "(missing)", "(unknown)")
ROLES = tuple(r.value for r in Role)
pytestmark = pytest.mark.slow


@dataclass(frozen=True, slots=True)
class Expectation:
    status: str
    view: str
    line: int


def _rows(name: str) -> Iterator[tuple[int, list[str]]]:
    with (HERE / name).open(encoding="utf-8") as f:
        for number, row in enumerate(csv.reader(f), 1):
            if row and not row[0].lstrip().startswith("#"):
                yield number, [c.strip() for c in row]


RULES = [(n, r) for n, r in _rows("expected_matrix.csv")]
VIEWS: dict[str, dict[str, str]] = {}
for _, (view, field_name, visibility) in _rows("expected_views.csv"):
    VIEWS.setdefault(view, {})[field_name] = visibility


def expected(role: str, purpose: str, action: str, scope: str) -> Expectation:
    for number, (r, p, a, s, status, view) in RULES:
        if all(fnmatchcase(value, pattern) for pattern, value in ((r, role), (p, purpose), (a, action), (s, scope))):
            return Expectation(status, view, number)
    raise AssertionError(f"expected_matrix.csv has no row for {role},{purpose},{action},{scope}")


CELLS = list(itertools.product(ROLES, PURPOSES, ACTIONS, SCOPES))


def test_the_expectations_cover_every_cell_and_name_known_things():
    assert {r for _, (r, *_rest) in RULES} - {"*"} <= set(ROLES)
    assert {p for _, (_r, p, *_rest) in RULES} - {"*"} <= set(PURPOSES)
    assert {v for _, (*_rest, v) in RULES if v} <= {*VIEWS, "content"}
    for cell in CELLS:
        outcome = expected(*cell)
        assert outcome.status in {"200", "400", "403", "404", "absent"}
        assert (outcome.status == "200") == bool(outcome.view), cell


def call(world: World, role: str, purpose: str, action: str, scope: str, n: int):  # type: ignore[no-untyped-def]
    token = world.tokens[role]
    target = world.targets[(role, scope)]
    stated = {"(missing)": None, "(unknown)": "curiosity"}.get(purpose, purpose)
    api = world.api
    if action == "read":
        return api.get(f"/api/v1/customers/{target}", token=token, purpose=stated)
    if action == "list":
        return api.get("/api/v1/customers", token=token, purpose=stated, params={"limit": 500})
    if action == "search":
        phone = world.plain[target]["phone"]
        return api.post("/api/v1/customers/search", token=token, purpose=stated, json={"phone": phone})
    if action in CONTENT:
        document_id, _ = world.documents[(target, CONTENT[action])]
        return api.get(f"/api/v1/documents/{document_id}/content", token=token, purpose=stated)
    if action == "status":  # a lifecycle step there and back, so the world stays as it was
        there = api.post(f"/api/v1/customers/{target}/status", token=token, purpose=stated,
                         json={"status": "stagnant", "reason": "matrix"})
        if there.status_code != 200:
            return there
        return api.post(f"/api/v1/customers/{target}/status", token=token, purpose=stated,
                        json={"status": "active", "reason": "matrix"})
    if action == "assign":  # to the owner it already has: decided, logged and kept, nothing moves
        return api.post(f"/api/v1/customers/{target}/owner", token=token, purpose=stated,
                        json={"owner": world.owners[target], "reason": "matrix"})
    email = f"corrected{n}@example.org"
    response = api.patch(f"/api/v1/customers/{target}", token=token, purpose=stated,
                         headers={"If-Match": f'"{world.version(target)}"'},
                         json={"email": email, "reason": "matrix correction"})
    if response.status_code == 200:
        world.plain[target]["email"] = email
    return response


def check_view(world: World, shown: dict[str, object], target, view: str, where: str) -> None:  # type: ignore[no-untyped-def]
    plain = world.plain[target]
    assert shown["id"] == str(target) and shown["code"] and shown["status"] == "active", where
    for name, visibility in VIEWS[view].items():
        value = shown.get(name)
        if visibility == "clear":
            assert value == plain[name], f"{where}: {name} should be clear, got {value!r}"
        elif visibility == "masked":
            assert isinstance(value, str) and "*" in value and value != plain[name], \
                f"{where}: {name} should be masked, got {value!r}"
        else:
            assert value is None, f"{where}: {name} should be omitted, got {value!r}"


def check_cell(world: World, cell: tuple[str, str, str, str], n: int) -> None:
    role, _purpose, action, scope = cell
    want = expected(*cell)
    where = f"{','.join(cell)} (expected_matrix.csv line {want.line})"
    response = call(world, *cell, n)
    target = world.targets[(role, scope)]
    status = response.status_code
    if want.status in ("200", "absent"):
        assert status == 200, f"{where}: {status} {response.text[:300]}"
        body = None if action in CONTENT else response.json()
        if action in CONTENT:
            assert want.view == "content", where
            assert response.content == world.documents[(target, CONTENT[action])][1], f"{where}: the document"
        elif action in ("list", "search"):
            hits = [c for c in body["items"] if c["id"] == str(target)]
            if want.status == "absent":
                assert hits == [], f"{where}: the customer should not be listed"
            else:
                assert len(hits) == 1, f"{where}: the customer should be listed"
                check_view(world, hits[0], target, want.view, where)
        else:
            assert want.status == "200", f"{where}: absent only applies to list and search"
            check_view(world, body, target, want.view, where)
        decision = "allowed"
    else:
        assert str(status) == want.status, f"{where}: got {status} {response.text[:300]}"
        assert response.headers["content-type"].startswith("application/problem+json"), where
        decision = "denied"
    assert world.decisions(response.headers["x-request-id"]) == {decision}, f"{where}: audit event"


def _run(world: World, cells: list[tuple[str, str, str, str]], label: str) -> None:
    started = time.perf_counter()
    for n, cell in enumerate(cells):
        check_cell(world, cell, n)
    print(f"\npolicy matrix on {label}: {len(cells)} cells checked in {time.perf_counter() - started:.1f} s")


@pytest.fixture(scope="module")
def sqlite_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    with committed_sqlite_world(tmp_path_factory.mktemp("matrix"), documents=True) as built:
        yield built


def test_every_cell_on_sqlite(sqlite_world: World, capsys: pytest.CaptureFixture[str]) -> None:
    _run(sqlite_world, CELLS, "SQLite")
    with capsys.disabled():
        print(f"\npolicy matrix: {len(CELLS)} cells (roles {len(ROLES)} x purposes {len(PURPOSES)} x scopes "
              f"{len(SCOPES)} x actions {len(ACTIONS)}), none skipped")


def test_a_sample_on_postgresql(committed_pg_engine: Engine, tmp_path: Path) -> None:
    world = build_world(Database(committed_pg_engine), tmp_path, documents=True)
    sample = CELLS[::5]  # a step coprime to actions x scopes, so every action and scope is sampled
    _run(world, sample, "PostgreSQL")
    assert {c[0] for c in sample} == set(ROLES) and {c[2] for c in sample} == set(ACTIONS)
    assert {c[3] for c in sample} == set(SCOPES)


def test_the_matrix_fails_a_wrong_policy(sqlite_world: World, tmp_path: Path) -> None:
    """Loosen one rule in a copy of the policy: the hand-written matrix must notice."""
    import shutil

    from archive.policy.engine import default_policy_dir

    copy = tmp_path / "policies"
    shutil.copytree(default_policy_dir(), copy)
    allow = copy / "allow.csv"
    allow.write_text(allow.read_text().replace("p, sales_rep, advisory, customer.read, standard, own, allow",
                                               "p, sales_rep, advisory, customer.read, standard, all, allow"))
    gate = sqlite_world.api.app.state.ctx.gate
    original = gate.policy
    gate.policy = PolicyEngine(copy)
    try:
        with pytest.raises(AssertionError, match="sales_rep,advisory,read,department"):
            check_cell(sqlite_world, ("sales_rep", "advisory", "read", "department"), 0)
    finally:
        gate.policy = original
