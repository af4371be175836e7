"""Appending events: one INSERT, in the caller's transaction, so the event commits or rolls
back with the act it records. Sequencing (hash and order) happens afterwards, in the
sequencer, within a bounded delay."""

from __future__ import annotations

import json
import time
import uuid

import uuid_utils
from sqlalchemy import Connection, func, insert, select
from sqlalchemy.orm import Session

from audit.canonical import FORMAT
from audit.events import EventDraft
from audit.tables import events

_INSERT = insert(events)


def now_us() -> int:
    return time.time_ns() // 1000


def new_event_id() -> uuid.UUID:
    return uuid.UUID(bytes=uuid_utils.uuid7().bytes)


def row_of(draft: EventDraft, *, event_id: uuid.UUID | None = None,
           occurred_us: int | None = None) -> dict[str, object]:
    actor = draft.actor
    return {
        "id": event_id or new_event_id(),
        "format": FORMAT,
        "occurred_us": occurred_us or now_us(),
        "actor_kind": actor.kind.value,
        "actor_id": actor.id,
        "actor_name": actor.name,
        "actor_roles": " ".join(sorted(actor.roles)),
        "action": str(draft.action),
        "decision": draft.decision.value,
        "resource_type": draft.resource_type,
        "resource_id": draft.resource_id,
        "customer_ids": " ".join(sorted({str(c) for c in draft.customer_ids})),
        "purpose": draft.purpose,
        "categories": " ".join(sorted(set(draft.categories))),
        "fields": " ".join(sorted(set(draft.fields))),
        "reason": draft.reason[:2000],
        "policy_rule": draft.policy_rule[:500],
        "policy_version": draft.policy_version,
        "request_id": draft.request_id,
        "client_address": draft.client_address,
        "lookup_hmacs": " ".join(draft.lookup_hmacs),
        "break_glass": draft.break_glass,
        "extra": json.dumps(draft.extra, sort_keys=True, ensure_ascii=False, separators=(",", ":")),
    }


def append(target: Session | Connection, draft: EventDraft) -> uuid.UUID:
    """Insert one event in the caller's transaction and return its id."""
    row = row_of(draft)
    target.execute(_INSERT, row)
    return row["id"]  # type: ignore[return-value]


def append_row(target: Session | Connection, row: dict[str, object]) -> uuid.UUID:
    """Insert an event `row_of` made earlier — while the caller waited on something else (a
    bulk import makes its event while its last rows are still being inserted) — with its id and
    time taken now: the event happened when it is written, however long the rest took."""
    stamped = {**row, "id": new_event_id(), "occurred_us": now_us()}
    target.execute(_INSERT, stamped)
    return stamped["id"]  # type: ignore[return-value]


def append_many(target: Session | Connection, drafts: list[EventDraft]) -> list[uuid.UUID]:
    rows = [row_of(d) for d in drafts]
    if rows:
        target.execute(_INSERT, rows)
    return [r["id"] for r in rows]  # type: ignore[misc]


def writable(conn: Connection) -> bool:
    """Whether the caller's database user may insert events, asked without inserting one: the
    readiness probe writes a scratch table of its own, never the chained log. On PostgreSQL
    the table privilege; on SQLite a file that takes writes at all takes them here."""
    if conn.dialect.name != "postgresql":
        return True
    return bool(conn.execute(select(func.has_table_privilege(events.name, "INSERT"))).scalar())
