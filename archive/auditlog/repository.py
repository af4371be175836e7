"""Queries over the access log: filtered listing with a cursor, customer and actor shortcuts,
denied attempts, unusual volume, lookups of audit-key HMACs, checkpoints — and, in the caller's
transaction, chaining what is pending and verifying the chain."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, Connection, Row, and_, distinct, func, or_, select
from sqlalchemy.orm import Session

from archive.auditlog.models import chain, event_customers, events
from audit import checkpoints as signed
from audit.chain import integrate_batch
from audit.checkpoints import Checkpoint, Verifier
from audit.verify import Report, verify

US_PER_HOUR = 3_600_000_000


@dataclass(frozen=True, slots=True)
class EventFilter:
    customer_id: uuid.UUID | None = None
    actor: str | None = None  # actor id or name
    action: str | None = None
    purpose: str | None = None
    decision: str | None = None
    since_us: int | None = None
    until_us: int | None = None
    break_glass: bool | None = None
    lookup_tokens: tuple[str, ...] = ()


Cursor = tuple[int, uuid.UUID]  # (occurred_us, id) of the last event of the previous page


def encode_cursor(row: Row[Any]) -> str:
    return f"{row.occurred_us}_{row.id.hex}"


def decode_cursor(cursor: str) -> Cursor:
    """ValueError when `cursor` is not one `encode_cursor` made."""
    occurred, _, hex_id = cursor.partition("_")
    return int(occurred), uuid.UUID(hex=hex_id)


class AuditLogRepository:
    def __init__(self, session: Session) -> None:
        self.session = session

    @property
    def _conn(self) -> Connection:
        return self.session.connection()

    def events(self, f: EventFilter, *, limit: int, after: Cursor | None = None) -> Sequence[Row[Any]]:
        """Newest first; ask for `limit + 1` to know whether more follow."""
        query = select(events, chain.c.seq).outerjoin(chain, chain.c.event_id == events.c.id)
        conditions = _conditions(f)
        if after is not None:
            occurred, event_id = after
            conditions.append(or_(events.c.occurred_us < occurred,
                                  and_(events.c.occurred_us == occurred, events.c.id < event_id)))
        if conditions:
            query = query.where(and_(*conditions))
        return self._conn.execute(query.order_by(events.c.occurred_us.desc(), events.c.id.desc()).limit(limit)).all()

    def unusual_volume(self, *, since_us: int, threshold: int) -> Sequence[Row[Any]]:
        """Actors who touched more distinct customers in one hour than `threshold`."""
        hour = func.floor(events.c.occurred_us / US_PER_HOUR)
        touched = func.count(distinct(event_customers.c.customer_id))
        query = (
            select(events.c.actor_id, events.c.actor_name, hour.label("hour"), touched.label("customers"))
            .join(event_customers, event_customers.c.event_id == events.c.id)
            .where(events.c.occurred_us >= since_us)
            .group_by(events.c.actor_id, events.c.actor_name, hour)
            .having(touched > threshold)
            .order_by(touched.desc())
        )
        return self._conn.execute(query).all()

    def checkpoints(self, *, limit: int) -> list[Checkpoint]:
        return signed.listed(self._conn, limit=limit)

    def chain_pending(self) -> None:
        """Chain what is pending, in the caller's transaction (skipped while another sequencer
        holds the lock: its batch is chained by it)."""
        while integrate_batch(self._conn):
            pass

    def verify(self, verifier: Verifier) -> Report:
        return verify(self._conn, verifier)


def _conditions(f: EventFilter) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if f.customer_id is not None:
        # Links are written when the sequencer chains an event; until then (well under a second)
        # the event's own customer list answers, so a fresh read is never missing from a search.
        conditions.append(or_(
            events.c.id.in_(select(event_customers.c.event_id).where(event_customers.c.customer_id == f.customer_id)),
            and_(chain.c.seq.is_(None), events.c.customer_ids.contains(str(f.customer_id)))))
    if f.actor:
        conditions.append(or_(events.c.actor_id == f.actor, events.c.actor_name == f.actor))
    for column, value in ((events.c.action, f.action), (events.c.purpose, f.purpose),
                          (events.c.decision, f.decision)):
        if value:
            conditions.append(column == value)
    if f.since_us is not None:
        conditions.append(events.c.occurred_us >= f.since_us)
    if f.until_us is not None:
        conditions.append(events.c.occurred_us < f.until_us)
    if f.break_glass is not None:
        conditions.append(events.c.break_glass == f.break_glass)
    if f.lookup_tokens:
        conditions.append(or_(*[events.c.lookup_hmacs.contains(t) for t in f.lookup_tokens]))
    return conditions
