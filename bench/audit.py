"""Audit log benchmarks (API.md "Benchmarks"): append throughput at 1 and 16 writers against
a plain insert+commit, the commit→chained delay, and verify throughput against a bare
read+canonicalise+hash pass — on SQLite and PostgreSQL, each ratio measured in the same run
with alternating windows. Run from the repository root: `python -m bench.audit`."""

from __future__ import annotations

import hashlib
import os
import statistics
import tempfile
import threading
import time
import uuid
from pathlib import Path

from sqlalchemy import Engine, MetaData, Table, create_engine, insert, select, text
from sqlalchemy.engine import make_url

from archive.db import make_engine
from archive.migrate import upgrade
from audit.canonical import CANONICAL_COLUMNS
from audit.chain import SequencerThread, integrate
from audit.events import Actor, ActorKind, AuditAction, Decision, EventDraft
from audit.log import append, now_us, row_of
from audit.tables import chain, events
from audit.verify import verify
from bench._common import record

PG_URL = os.environ.get("ARCHIVE_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
WINDOW_S = float(os.environ.get("BENCH_WINDOW_S", "2.0"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
VERIFY_EVENTS = int(os.environ.get("BENCH_VERIFY_EVENTS", "100000"))

ACTOR = Actor(ActorKind.USER, str(uuid.uuid4()), "sales_rep", ("sales_rep",))


def draft() -> EventDraft:
    return EventDraft(actor=ACTOR, action=AuditAction.CUSTOMER_READ, decision=Decision.ALLOWED,
                      resource_type="customer", resource_id=str(uuid.uuid4()), customer_ids=(uuid.uuid4(),),
                      purpose="sales_followup", categories=("basic",), fields=("name", "phone", "email"),
                      reason="own customer", policy_rule="p, sales_rep, sales_followup, customer.read, own",
                      policy_version="abc123", request_id=uuid.uuid4().hex, client_address="127.0.0.1")


PLAIN = Table("bench_plain_events", MetaData(), *[c._copy() for c in events.columns])  # same columns, no chain


def windowed(engine: Engine, writers: int, op, seconds: float) -> float:  # type: ignore[no-untyped-def]
    """Operations per second over one window with `writers` threads."""
    stop = time.perf_counter() + seconds
    counts = [0] * writers

    def run(i: int) -> None:
        while time.perf_counter() < stop:
            op()
            counts[i] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(writers)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sum(counts) / (time.perf_counter() - start)


def appends(engine: Engine, label: str, *, chained_delays: list[float] | None = None) -> dict[int, tuple[float, float]]:
    PLAIN.create(engine, checkfirst=True)
    committed: list[tuple[uuid.UUID, int]] = []
    lock = threading.Lock()

    def ours() -> None:
        with engine.begin() as conn:
            event_id = append(conn, draft())
        if chained_delays is not None:
            with lock:
                committed.append((event_id, now_us()))

    def plain() -> None:
        with engine.begin() as conn:
            conn.execute(insert(PLAIN), row_of(draft()))

    sequencer = SequencerThread(engine, interval=0.1)
    sequencer.start()
    results: dict[int, tuple[float, float]] = {}
    try:
        for writers in (1, 16):
            mine, base = [], []
            for _ in range(ROUNDS):  # alternate short windows: the machine is shared and noisy
                base.append(windowed(engine, writers, plain, WINDOW_S))
                mine.append(windowed(engine, writers, ours, WINDOW_S))
            results[writers] = (statistics.median(mine), statistics.median(base))
            print(f"  {label} {writers:>2} writers: ours {results[writers][0]:,.0f}/s, "
                  f"plain {results[writers][1]:,.0f}/s")
    finally:
        sequencer.stop()
    if chained_delays is not None:
        ids = dict(committed)
        with engine.connect() as conn:
            for event_id, chained_us in conn.execute(select(chain.c.event_id, chain.c.chained_us)):
                if event_id in ids:
                    chained_delays.append(max(0.0, (chained_us - ids[event_id]) / 1000))
    return results


def fill(engine: Engine, n: int) -> None:
    batch = 5000
    with engine.begin() as conn:
        for start in range(0, n, batch):
            conn.execute(insert(events), [row_of(draft()) for _ in range(min(batch, n - start))])
    integrate(engine, full_scan=True, batch=20000)


class _NoKeys:
    def verify(self, key_id: str, data: bytes, signature: bytes) -> bool:
        return True


def bare_verify(engine: Engine) -> int:
    """The baseline: read the same columns in one pass, build canonical bytes, hash-chain them."""
    sha = hashlib.sha256
    prev = bytes(32)
    n = 0
    query = (select(chain.c.hash, *[events.c[c] for c in CANONICAL_COLUMNS])
             .join(events, events.c.id == chain.c.event_id).order_by(chain.c.seq))
    with engine.connect() as conn, conn.execute(query.execution_options(stream_results=True, yield_per=10000)) as rows:
        for row in rows:
            parts = [b"AEv1"]
            for value in row[1:]:
                data = (b"1" if value else b"0") if isinstance(value, bool) else str(value).encode()
                parts.append(len(data).to_bytes(4, "big"))
                parts.append(data)
            prev = sha(prev + b"".join(parts)).digest()
            n += 1
    return n


def verify_rates(engine: Engine) -> tuple[float, float]:
    mine, base = [], []
    for _ in range(ROUNDS):
        start = time.perf_counter()
        n = bare_verify(engine)
        base.append(n / (time.perf_counter() - start))
        start = time.perf_counter()
        with engine.connect() as conn:
            report = verify(conn, _NoKeys())
        assert report.ok, report.damage
        mine.append(report.checked / (time.perf_counter() - start))
    return statistics.median(mine), statistics.median(base)


def fresh_pg() -> tuple[Engine, Engine, str]:
    name = f"archive_bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(PG_URL).set(database=name).render_as_string(hide_password=False), pool_size=20)
    upgrade(engine)
    return engine, admin, name


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        lite = make_engine(f"sqlite:///{Path(tmp) / 'bench.db'}")
        upgrade(lite)
        print("SQLite appends (figures only; SQLite has one writer by design)")
        appends(lite, "sqlite")
        fill(lite, VERIFY_EVENTS)
        ours, base = verify_rates(lite)
        record("audit.verify_sqlite", value=ours, unit="events/s", baseline="read rows + hashlib",
               baseline_value=base, ratio=ours / base, target=">= 0.5", n=ROUNDS)
        record("audit.verify_sqlite_rate", value=ours, unit="events/s", target=">= 30000", n=ROUNDS)
        lite.dispose()

    engine, admin, name = fresh_pg()
    try:
        delays: list[float] = []
        res = appends(engine, "postgresql", chained_delays=delays)
        (ours16, base16), (ours1, _) = res[16], res[1]
        record("audit.append_pg_16", value=ours16, unit="appends/s", baseline="plain insert+commit, 16 writers",
               baseline_value=base16, ratio=ours16 / base16, target=">= 0.5", n=ROUNDS)
        record("audit.append_pg_16_vs_1", value=ours16, unit="appends/s", baseline="ours at 1 writer",
               baseline_value=ours1, ratio=ours16 / ours1, target=">= 1", n=ROUNDS)
        delays.sort()
        p50, p99 = delays[len(delays) // 2], delays[int(len(delays) * 0.99)]
        print(f"  commit → chained: p50 {p50:.0f} ms, p99 {p99:.0f} ms over {len(delays):,} events")
        record("audit.chain_delay_p50_ms", value=p50, unit="ms", target="<= 1000", n=len(delays))
        record("audit.chain_delay_p99_ms", value=p99, unit="ms", target="<= 1000", n=len(delays))
        fill(engine, max(0, VERIFY_EVENTS // 2))
        ours, base = verify_rates(engine)
        record("audit.verify_pg", value=ours, unit="events/s", baseline="read rows + hashlib",
               baseline_value=base, ratio=ours / base, target=">= 0.5", n=ROUNDS)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
