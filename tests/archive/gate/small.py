"""A small committed archive for the gate's and the customer service's tests, on SQLite and
PostgreSQL: a rep and a head in SALES, a rep elsewhere, a compliance officer; one customer owned
by the rep, one by the outsider."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select, text
from sqlalchemy.engine import make_url

from archive.auditing import Auditor, actor_of
from archive.customers.models import Customer, CustomerStatusChange
from archive.customers.registry import CustomerRegistry
from archive.customers.repository import CustomerRepository
from archive.db import Database, make_engine, new_id
from archive.gate import Caller, Gate
from archive.identity.principal import Principal
from archive.migrate import upgrade
from crypto.envelope import FieldCipher
from service.context import AppContext
from tests.support import add_user, make_context

PHONE = "13912345678"


@dataclass
class Setup:
    ctx: AppContext
    principals: dict[str, Principal]
    own: uuid.UUID  # owned by `rep`
    other: uuid.UUID  # owned by `outsider`, in another department

    @property
    def gate(self) -> Gate:
        return self.ctx.gate

    @property
    def engine(self) -> Engine:
        return self.ctx.db.engine

    def caller(self, who: str, purpose: str | None = "sales_followup") -> Caller:
        principal = self.principals[who]
        return Caller(principal, Auditor(actor_of(principal), f"test-{uuid.uuid4().hex}",
                                         policy_version=self.gate.policy.version), purpose)

    def events(self, caller_or_auditor: Caller | Auditor) -> list[tuple[str, str, str]]:
        auditor = caller_or_auditor.auditor if isinstance(caller_or_auditor, Caller) else caller_or_auditor
        with self.engine.connect() as conn:
            rows = conn.execute(text("SELECT action, decision, extra FROM audit_events WHERE request_id = :r"),
                                {"r": auditor.request_id})
            return [(r[0], r[1], str(r[2])) for r in rows]

    def customer(self, customer_id: uuid.UUID) -> Customer:
        with self.ctx.db.session_factory() as session:
            found = session.get(Customer, customer_id)
            assert found is not None
            return found

    def history_rows(self, customer_id: uuid.UUID) -> int:
        with self.engine.connect() as conn:
            return len(conn.execute(select(CustomerStatusChange.id)
                                    .where(CustomerStatusChange.customer_id == customer_id)).all())


def build(db: Database, data_dir: Path) -> Setup:
    ctx = make_context(db, data_dir)
    users = {"rep": add_user(ctx, username="rep", roles=["sales_rep"], department="SALES"),
             "head": add_user(ctx, username="head", roles=["department_head"], department="SALES"),
             "outsider": add_user(ctx, username="outsider", roles=["sales_rep"], department="ELSEWHERE"),
             "officer": add_user(ctx, username="officer", roles=["compliance_officer"], department="COMPLIANCE")}
    principals = {name: Principal(id=u.id, username=u.username, kind="staff", roles=frozenset(u.roles),
                                  department_id=u.department_id) for name, u in users.items()}
    own, other = new_id(), new_id()
    for customer_id in (own, other):
        ctx.key_ring.dek_for_encrypt(customer_id)
    with db.unit_of_work() as uow:
        registry = CustomerRegistry(CustomerRepository(uow.session), FieldCipher(ctx.key_ring), ctx.blind_index)
        for n, (customer_id, owner) in enumerate(((own, users["rep"]), (other, users["outsider"]))):
            registry.register(customer_id=customer_id, code=f"C-G{n}", kind="individual",
                              department_id=owner.department_id, owner_id=owner.id, status="active",
                              sensitive={"name": "王小明", "phone": PHONE, "id_number": "320302198001010015",
                                         "annual_volume": "2500000", "credit_rating": "AA"})
    return Setup(ctx, principals, own, other)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgresql)])
def setup(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Setup]:
    directory = tmp_path_factory.mktemp("gate")
    if request.param == "sqlite":
        engine = make_engine(f"sqlite:///{directory / 'archive.db'}")
        upgrade(engine)
        try:
            yield build(Database(engine), directory)
        finally:
            engine.dispose()
        return
    url = request.getfixturevalue("pg_database_url")
    admin = make_engine(url)
    name = f"archive_gate_{uuid.uuid4().hex[:12]}"
    with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(url).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield build(Database(engine), directory)
    finally:
        engine.dispose()
        with admin.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
