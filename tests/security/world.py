"""A small committed archive for the policy matrix: for every role a user, a colleague in the
same department, a customer each owns, one customer in another department, and a customer
login bound to its own record. Built through the real services on a real database."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, select, text

from archive.customers.models import Customer
from archive.customers.registry import CustomerRegistry
from archive.customers.repository import CustomerRepository
from archive.db import Database, make_engine, new_id
from archive.migrate import upgrade
from archive.vocabulary import Role
from crypto.envelope import FieldCipher
from service.app import create_app
from tests.support import ApiClient, add_user, make_context

STAFF = [r for r in Role if r is not Role.CUSTOMER]
DEPARTMENT = {Role.SALES_REP: "SALES", Role.DEPARTMENT_HEAD: "SALES"}
SCOPES = ("own", "department", "other")


def department_of(role: Role) -> str:
    return DEPARTMENT.get(role, role.value.upper().replace("_", "")[:12])


def values_for(n: int) -> dict[str, str]:
    """Distinct, recognisable plaintext per customer (the matrix compares what comes back)."""
    return {
        "name": "张" + "伟芳娜敏静丽强磊军洋勇艳杰娟涛"[n % 15] + "明",
        "phone": f"139{n:08d}",
        "email": f"owner{n}@example.cn",
        "address": f"江苏省徐州市建设路{n}号",
        "id_number": f"32030219800101{n:04d}",
        "tax_number": f"91320300MA1{n:07d}",
        "bank_accounts": f"6222020{n:09d}",
        "annual_volume": str(1_000_000 + n),
        "credit_rating": "AA",
        "cooperation_since": "2019-01-01",
        "savings": str(50_000 + n),
        "insurance_balances": str(7_000 + n),
    }


@dataclass
class World:
    api: ApiClient
    db: Database
    tokens: dict[str, str] = field(default_factory=dict)
    targets: dict[tuple[str, str], uuid.UUID] = field(default_factory=dict)  # (role, scope) -> customer
    plain: dict[uuid.UUID, dict[str, str]] = field(default_factory=dict)
    documents: dict[tuple[uuid.UUID, str], tuple[str, bytes]] = field(default_factory=dict)  # -> (id, content)
    owners: dict[uuid.UUID, str] = field(default_factory=dict)  # customer -> owner's username

    @property
    def engine(self) -> Engine:
        return self.db.engine

    def version(self, customer_id: uuid.UUID) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(Customer.version).where(Customer.id == customer_id)).scalar_one())

    def decisions(self, request_id: str) -> set[str]:
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT decision FROM audit_events WHERE request_id = :r"), {"r": request_id})
            return {r[0] for r in rows}


@contextlib.contextmanager
def sqlite_world(directory: Path, *, documents: bool = False) -> Iterator[World]:
    """A migrated SQLite archive in `directory`, committed (so key stores and real processes see
    it), built by `build_world`; disposed of afterwards."""
    engine = make_engine(f"sqlite:///{directory / 'archive.db'}")
    upgrade(engine)
    try:
        yield build_world(Database(engine), directory, documents=documents)
    finally:
        engine.dispose()


def build_world(db: Database, data_dir: Path, *, documents: bool = False) -> World:
    ctx = make_context(db, data_dir)
    world = World(ApiClient(create_app(ctx)), db)
    users = {}
    for role in STAFF:
        dept = department_of(role)
        users[role.value] = add_user(ctx, username=role.value, roles=[role.value], department=dept)
        users[role.value + "_peer"] = add_user(ctx, username=role.value + "_peer", roles=[role.value],
                                               department=dept)
    users["outsider"] = add_user(ctx, username="outsider", roles=[Role.SALES_REP.value], department="ELSEWHERE")
    departments = {u.username: u.department_id for u in users.values()}

    plan: list[tuple[uuid.UUID, str, uuid.UUID]] = []  # (customer id, owner username, department id)
    other = new_id()
    plan.append((other, "outsider", departments["outsider"]))
    for role in STAFF:
        own, peer = new_id(), new_id()
        plan += [(own, role.value, departments[role.value]), (peer, role.value + "_peer", departments[role.value])]
        world.targets[(role.value, "own")] = own
        world.targets[(role.value, "department")] = peer
        world.targets[(role.value, "other")] = other
    myself = new_id()
    plan.append((myself, "customer_service_peer", departments["customer_service_peer"]))
    world.targets[("customer", "own")] = myself
    world.targets[("customer", "department")] = world.targets[("sales_rep", "department")]
    world.targets[("customer", "other")] = other

    for customer_id, _, _ in plan:  # data keys are committed before anything is sealed with them
        ctx.key_ring.dek_for_encrypt(customer_id)
    with db.unit_of_work() as uow:
        registry = CustomerRegistry(CustomerRepository(uow.session), FieldCipher(ctx.key_ring), ctx.blind_index)
        for n, (customer_id, owner, dept) in enumerate(plan):
            world.plain[customer_id] = values_for(n)
            world.owners[customer_id] = owner
            registry.register(customer_id=customer_id, code=f"C-M{n:04d}", kind="individual", department_id=dept,
                              owner_id=users[owner].id, status="active", profile={"industry": "制造"},
                              sensitive=world.plain[customer_id])
    add_user(ctx, username="customer", roles=[Role.CUSTOMER.value], kind="customer", customer_id=myself)
    for username in [*users, "customer"]:
        world.tokens[username] = world.api.token(username)
    if documents:
        for customer_id in dict.fromkeys(world.targets.values()):
            for kind in DOCUMENT_KINDS:
                file_document(world, customer_id, kind)
    return world


DOCUMENT_KINDS = ("visit_report", "credit_application", "contract_original")  # basic, credit, account


def file_document(world: World, customer_id: uuid.UUID, kind: str) -> str:
    """File a small text document through the API (as customer service, who may file for anyone)."""
    content = f"{kind} of {customer_id}: 面谈记录 / 信用申请 / 合同正本\n".encode()
    response = world.api.post(f"/api/v1/customers/{customer_id}/documents", token=world.tokens["customer_service"],
                              purpose="customer_service", data={"kind": kind},
                              files={"file": (f"{kind}.txt", content, "text/plain")})
    assert response.status_code == 201, response.text
    world.documents[(customer_id, kind)] = (response.json()["id"], content)
    return str(response.json()["id"])
