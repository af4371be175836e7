"""The sequencer: integrates committed events into the hash chain, in order, within a bounded
delay (the queue + sequencer design of Trillian; docs/audit.md says why).

Requests only INSERT their event, so concurrent requests never wait on each other for the
chain. The sequencer runs inside every service process; on PostgreSQL a transaction-level
advisory lock lets exactly one integrate at a time (the others skip the tick), on SQLite the
write lock does. The unique constraints on `seq`, `event_id` and `prev_hash` make a fork
impossible even if that ever failed.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import structlog
from sqlalchemy import Connection, Engine, exists, func, insert, select, text

from audit.canonical import CANONICAL_COLUMNS, GENESIS, canonical, link
from audit.log import now_us
from audit.tables import chain, event_customers, events

log = structlog.get_logger("archive.audit")

SEQUENCER_LOCK_KEY = 0x41554454  # "AUDT"
# Events committed later than this behind the newest chained one are found by the full scan.
SCAN_WINDOW_US = 10 * 60 * 1_000_000
FULL_SCAN_EVERY_S = 300.0

_EVENT_COLUMNS = [events.c[name] for name in CANONICAL_COLUMNS]
_CUSTOMERS = CANONICAL_COLUMNS.index("customer_ids")


def head(conn: Connection) -> tuple[int, bytes, int]:
    """(seq, hash, occurred_us of that event) of the newest chained event; (0, GENESIS, 0) if none."""
    row = conn.execute(
        select(chain.c.seq, chain.c.hash, events.c.occurred_us)
        .join(events, events.c.id == chain.c.event_id)
        .order_by(chain.c.seq.desc())
        .limit(1)
    ).first()
    return (int(row[0]), bytes(row[1]), int(row[2])) if row else (0, GENESIS, 0)


def _pending(conn: Connection, since_us: int | None, limit: int) -> Sequence[Any]:
    query = select(*_EVENT_COLUMNS).where(~exists().where(chain.c.event_id == events.c.id))
    if since_us is not None:
        query = query.where(events.c.occurred_us >= since_us)
    return conn.execute(query.order_by(events.c.occurred_us, events.c.id).limit(limit)).all()


def _locked(conn: Connection) -> bool:
    if conn.dialect.name != "postgresql":
        return True  # SQLite: the first write below takes the database write lock
    got = conn.execute(text("SELECT pg_try_advisory_xact_lock(:k)"), {"k": SEQUENCER_LOCK_KEY}).scalar()
    return bool(got)


def integrate_batch(conn: Connection, *, full_scan: bool = False, batch: int = 5000) -> int | None:
    """Chain up to `batch` pending events in the caller's transaction. Returns how many, or
    None when another sequencer holds the lock."""
    if not _locked(conn):
        return None
    seq, prev, head_us = head(conn)
    since = None if full_scan or seq == 0 else head_us - SCAN_WINDOW_US
    rows = _pending(conn, since, batch)
    if not rows:
        return 0
    chained_us = now_us()
    chain_rows: list[dict[str, object]] = []
    link_rows: list[dict[str, object]] = []
    for row in rows:
        seq += 1
        digest = link(prev, canonical(row))
        chain_rows.append({"seq": seq, "event_id": row[0], "prev_hash": prev, "hash": digest, "chained_us": chained_us})
        link_rows.extend({"event_id": row[0], "customer_id": uuid.UUID(c)} for c in row[_CUSTOMERS].split())
        prev = digest
    conn.execute(insert(chain), chain_rows)
    if link_rows:
        conn.execute(insert(event_customers), link_rows)
    return len(rows)


@contextmanager
def _sequencer_transaction(engine: Engine) -> Iterator[Connection]:
    """The sequencer's batch transaction: the one place in audit/ that opens and commits a
    transaction of its own (everything else writes through the connection or session its
    caller gives it; the commit lint exempts this function by name). Committed when the block
    ends, rolled back when it raises."""
    with engine.connect() as conn:
        # SQLite: BEGIN IMMEDIATE, so head and inserts agree. The flag lives on the pooled
        # DBAPI connection, so it is removed again before the connection goes back.
        conn.info["write_lock"] = True
        try:
            with conn.begin():
                yield conn
        finally:
            conn.info.pop("write_lock", None)


def integrate(engine: Engine, *, full_scan: bool = False, batch: int = 5000) -> int:
    """Chain every pending event visible now, one transaction per batch; returns how many."""
    total = 0
    while True:
        with _sequencer_transaction(engine) as conn:
            done = integrate_batch(conn, full_scan=full_scan, batch=batch)
        total += done or 0
        if not done or done < batch:
            return total


def pending_count(conn: Connection) -> int:
    query = select(func.count()).select_from(events).where(~exists().where(chain.c.event_id == events.c.id))
    return int(conn.execute(query).scalar_one())


class SequencerThread:
    """Keeps the chain current from inside a service process: a daemon thread that integrates
    every `interval` seconds, and once more when stopped."""

    def __init__(self, engine: Engine, *, interval: float = 0.2) -> None:
        self.engine = engine
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-sequencer", daemon=True)
        self.healthy = True

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        last_full = 0.0
        while not self._stop.wait(self.interval):
            full = time.monotonic() - last_full > FULL_SCAN_EVERY_S
            try:
                integrate(self.engine, full_scan=full)
                self.healthy = True
                if full:
                    last_full = time.monotonic()
            except Exception as exc:  # keep serving; /readyz reports it, the next tick retries
                self.healthy = False
                log.error("audit.sequencer.failed", error=type(exc).__name__)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        try:
            integrate(self.engine, full_scan=True)
        except Exception as exc:
            log.error("audit.sequencer.final_failed", error=type(exc).__name__)
