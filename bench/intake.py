"""Bulk import benchmark (API.md "Benchmarks": import.sqlite, import.pg).

Ours: `CustomerImporter.run` on rows already read from the CSV — validation, duplicate checks
(blind indexes, fuzzy company names), a data key per customer, every sensitive field sealed,
blind indexes, bulk inserts a part of the file at a time (one executemany per table), one audit
event.
Baseline: a raw `executemany` of the same rows, unencrypted, into a plain table of the same
database. Both sides run with the cyclic garbage collector paused, as `archive import
customers` runs an import (its `main` pauses it: the file's rows are tens of thousands of live
objects each full collection would walk again); two more rows give the figures with the
collector running, as an import through the API runs. Each round uses a fresh database (so the
register is empty and both sides insert the same number of rows); the two sides alternate and
the figures are medians. Run from the repository root: `python -m bench.intake`."""

from __future__ import annotations

import gc
import hashlib
import os
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Column, Engine, MetaData, String, Table, create_engine, insert, text
from sqlalchemy.engine import make_url

from archive.auditing import Auditor, actor_of
from archive.customers.importing import HEADER, CustomerImporter
from archive.datakeys import SqlKeyStore
from archive.db import Database, make_engine
from archive.gate import Gate
from archive.identity.models import Department, User
from archive.identity.service import principal_of
from archive.migrate import upgrade
from archive.policy import PolicyEngine
from bench._common import record
from crypto.blind_index import BlindIndex
from crypto.keyring import KeyRing
from crypto.keys import LocalKeyProvider, generate_local_keys

PG_URL = os.environ.get("ARCHIVE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "2000"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))


def rows(n: int, salt: str) -> list[tuple[int, dict[str, str]]]:
    out = []
    for i in range(n):
        company = i % 2 == 0
        token = hashlib.sha256(f"{salt}{i}".encode()).hexdigest()
        out.append((i + 2, {
            "code": f"C-B{salt}{i:06d}", "kind": "enterprise" if company else "individual",
            "name": f"华{token[:8]}科技有限公司" if company else f"周{token[:3]}",
            "department": "SALES", "owner": "head", "status": "active",
            # Distinct per row (a real register has no two alike; random ones would collide at 10k rows).
            "id_number": f"91320300MA{i:08d}" if company else f"3203021985{i:08d}",
            "tax_number": "", "phone": f"13{i:09d}", "email": f"b{i}@example.cn",
            "address": f"江苏省徐州市鼓楼区{i}号", "industry": "制造", "region": "徐州",
            "annual_volume": str(100_000 * (i % 200 + 1)), "credit_rating": "AA", "cooperation_since": "2015-03-01",
        }))
    return out


PLAIN = Table("bench_plain_customers", MetaData(), Column("id", String(36), primary_key=True),
              *[Column(c, String(300)) for c in HEADER])


class Setup:
    """A fresh, migrated database with one department head and local keys."""

    def __init__(self, engine: Engine, keys: Path) -> None:
        self.engine = engine
        upgrade(engine)
        PLAIN.create(engine, checkfirst=True)
        self.db = Database(engine)
        with self.db.unit_of_work() as uow:
            dept = Department(code="SALES", name="Sales")
            uow.session.add(dept)
            uow.session.flush()
            head = User(username="head", display_name="head", password_hash="x", department_id=dept.id)
            uow.session.add(head)
            uow.session.flush()
            from archive.identity.models import UserRole

            uow.session.add(UserRole(user_id=head.id, role="department_head"))
        with self.db.session_factory() as session:
            user = session.get(User, head.id)
            assert user is not None
            from sqlalchemy.orm import selectinload

            user = session.query(User).options(selectinload(User.department), selectinload(User.role_rows)).one()
            self.principal = principal_of(user)
        generate_local_keys(keys)
        ring = KeyRing(LocalKeyProvider(keys), SqlKeyStore(engine))
        index = BlindIndex.from_directory(keys)
        policy = PolicyEngine()
        self.importer = CustomerImporter(self.db, Gate(policy, ring), ring, index)
        self.auditor = Auditor(actor_of(self.principal))


def ours(setup: Setup, salt: str) -> float:
    batch = rows(ROWS, salt)
    start = time.perf_counter()
    report = setup.importer.run(setup.principal, "sales_followup", batch, auditor=setup.auditor)
    elapsed = time.perf_counter() - start
    assert report.created == ROWS, report
    return ROWS / elapsed


def raw(engine: Engine, salt: str) -> float:
    batch = [{"id": str(uuid.uuid4()), **r} for _, r in rows(ROWS, salt)]
    start = time.perf_counter()
    with engine.begin() as conn:
        conn.execute(insert(PLAIN), batch)
    return ROWS / (time.perf_counter() - start)


@contextmanager
def collector(paused: bool) -> Iterator[None]:
    """As `archive import customers` runs (service/cli: the command pauses the cyclic collector
    for its run, the library never does), or with the collector running, as in the web server."""
    if not paused:
        yield
        return
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def run(name: str, make: callable, target: str | None, *, paused: bool) -> None:  # type: ignore[valid-type]
    """Measure and record a figure; with no target, only print it (information, not a check)."""
    ours_rates, raw_rates = [], []
    for round_ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            engine, cleanup = make(Path(tmp), round_)
            try:
                setup = Setup(engine, Path(tmp) / "keys")
                for side in ("r", "o", "s"):
                    with collector(paused):
                        if side == "o":
                            ours_rates.append(ours(setup, f"o{round_}"))
                        else:
                            raw_rates.append(raw(engine, f"{side}{round_}"))
            finally:
                engine.dispose()
                cleanup()
    mine, base = statistics.median(ours_rates), statistics.median(raw_rates)
    if target is None:
        print(f"  (information) {name}: {mine:,.0f} customers/s vs {base:,.0f} raw = {mine / base:.4f}")
        return
    record(name, value=mine, unit="customers/s", target=target, n=ROUNDS,
           baseline=f"raw executemany of the same {ROWS} rows, unencrypted"
           + ("" if paused else "; the cyclic collector running"), baseline_value=base, ratio=mine / base)


def sqlite(tmp: Path, _round: int):  # type: ignore[no-untyped-def]
    return make_engine(f"sqlite:///{tmp / 'archive.db'}"), lambda: None


def postgresql(_tmp: Path, round_: int):  # type: ignore[no-untyped-def]
    name = f"bench_import_{os.getpid()}_{round_}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False))

    def drop() -> None:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return engine, drop


def main() -> None:
    print(f"bulk import of {ROWS} customers, {ROUNDS} rounds (medians)")
    run("import.sqlite", sqlite, ">= 0.06", paused=True)
    run("import.pg", postgresql, ">= 0.12", paused=True)
    # For information: the same with the collector running, as an import through the API runs.
    # Printed, not recorded: there is no target for it, and a ">= 0" would be a check that cannot fail.
    run("import.sqlite_collector_running", sqlite, None, paused=False)
    run("import.pg_collector_running", postgresql, None, paused=False)


if __name__ == "__main__":
    main()
