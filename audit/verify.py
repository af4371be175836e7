"""Verification: recompute the chain in constant memory, check the customer links and every
checkpoint signature, and name the first bad sequence number and the kind of damage.

Damage kinds: `edited` (an event's content no longer matches its hash), `deleted` (a chain
row or its event is missing), `inserted` (a chain row that continues no known hash), `reordered`
(a row that continues a hash from elsewhere in the chain), `truncated` (the chain ends before a
checkpoint), `rewritten` (the chain's hash at a checkpoint is not the signed one), `forged
checkpoint` (a signature that does not verify), `links` (customer links differ from the event).
Events not chained yet are reported as pending, never as damage.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from dataclasses import dataclass, field
from hashlib import sha256
from typing import Any

from sqlalchemy import Connection, String, cast, exists, func, select, type_coerce

from audit.canonical import CANONICAL_COLUMNS, GENESIS, canonical
from audit.chain import pending_count
from audit.checkpoints import Checkpoint, Verifier, listed
from audit.tables import chain, event_customers, events

BATCH = 10_000
_CUSTOMERS = 3 + CANONICAL_COLUMNS.index("customer_ids")


@dataclass(frozen=True, slots=True)
class Damage:
    seq: int
    kind: str
    detail: str


@dataclass(slots=True)
class Report:
    checked: int = 0
    head_seq: int = 0
    head_hash: bytes = GENESIS
    pending: int = 0
    checkpoints_checked: int = 0
    damage: list[Damage] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.damage

    @property
    def first(self) -> Damage | None:
        return min(self.damage, key=lambda d: d.seq) if self.damage else None

    def to_json(self) -> dict[str, object]:
        first = self.first
        return {
            "ok": self.ok, "checked": self.checked, "head_seq": self.head_seq, "head_hash": self.head_hash.hex(),
            "pending": self.pending, "checkpoints_checked": self.checkpoints_checked,
            "first_bad_seq": first.seq if first else None, "damage": first.kind if first else None,
            "detail": first.detail if first else None,
        }


def _chain_rows(conn: Connection) -> Generator[Any, None, None]:
    query = (
        select(chain.c.seq, chain.c.prev_hash, chain.c.hash, *[events.c[name] for name in CANONICAL_COLUMNS])
        .select_from(chain.outerjoin(events, events.c.id == chain.c.event_id))
        .order_by(chain.c.seq)
    )
    with conn.execute(query.execution_options(stream_results=True, yield_per=BATCH)) as result:
        for partition in result.partitions(BATCH):
            yield from partition


def _links(conn: Connection) -> Generator[tuple[int, str], None, None]:
    # Read as text: no UUID object per link on the hot path (PostgreSQL casts, SQLite has text).
    customer = event_customers.c.customer_id
    as_text = cast(customer, String) if conn.dialect.name == "postgresql" else type_coerce(customer, String)
    query = (
        select(chain.c.seq, as_text)
        .join(chain, chain.c.event_id == event_customers.c.event_id)
        .order_by(chain.c.seq, as_text)
    )
    with conn.execute(query.execution_options(stream_results=True, yield_per=BATCH)) as result:
        for partition in result.partitions(BATCH):
            yield from partition


def _continues(conn: Connection, prev_hash: bytes) -> int | None:
    """The seq whose hash this prev_hash continues, if any row has that hash."""
    found = conn.execute(select(chain.c.seq).where(chain.c.hash == prev_hash).limit(1)).scalar()
    return int(found) if found is not None else None


def verify_chain(conn: Connection, report: Report) -> dict[int, bytes]:
    """Walk the chain; returns the stored hash at each checkpointed seq (few) for later checks."""
    wanted = {c.seq for c in listed(conn, limit=1_000_000)}
    rows, links = _chain_rows(conn), _links(conn)
    try:
        return _walk(conn, report, rows, links, wanted)
    finally:  # closes the server-side cursors even when the walk stops at the first damage
        rows.close()
        links.close()


def _walk(conn: Connection, report: Report, rows: Iterator[Any], links: Iterator[tuple[int, str]],
          wanted: set[int]) -> dict[int, bytes]:
    at_checkpoints: dict[int, bytes] = {}
    expected_seq, running, stored_prev = 1, GENESIS, GENESIS
    pending_link = next(links, None)
    for row in rows:
        seq, prev_hash, stored_hash = int(row[0]), bytes(row[1]), bytes(row[2])
        if seq != expected_seq:
            report.damage.append(Damage(expected_seq, "deleted", f"sequence jumps from {expected_seq - 1} to {seq}"))
            return at_checkpoints
        if row[3] is None:  # events.id: the outer join found no event
            report.damage.append(Damage(seq, "deleted", "the chained event is missing from audit_events"))
            return at_checkpoints
        if prev_hash != stored_prev:
            source = _continues(conn, prev_hash)
            kind = "reordered" if source is not None else "inserted"
            report.damage.append(Damage(seq, kind, "the link to the previous event is broken"))
            return at_checkpoints
        computed = sha256(running + canonical(row[3:])).digest()
        if computed != stored_hash:
            report.damage.append(Damage(seq, "edited", "the event's content does not match its hash"))
            return at_checkpoints
        customers = row[_CUSTOMERS]
        if pending_link is not None and pending_link[0] < seq:
            report.damage.append(Damage(pending_link[0], "links", "a customer link belongs to no event"))
            return at_checkpoints
        if customers or (pending_link is not None and pending_link[0] == seq):
            linked: list[str] = []
            while pending_link is not None and pending_link[0] == seq:
                linked.append(pending_link[1])
                pending_link = next(links, None)
            # Both sorted (links by the query, ids when written); SQLite keeps UUIDs as bare hex.
            if "".join(linked).replace("-", "") != customers.replace("-", "").replace(" ", ""):
                report.damage.append(Damage(seq, "links", "the customer links differ from the event"))
                return at_checkpoints
        if seq in wanted:
            at_checkpoints[seq] = stored_hash
        running = stored_prev = stored_hash
        expected_seq += 1
        report.checked += 1
    report.head_seq, report.head_hash = expected_seq - 1, running
    return at_checkpoints


def verify_checkpoints(conn: Connection, report: Report, verifier: Verifier, at: dict[int, bytes],
                       extra: list[Checkpoint]) -> None:
    for checkpoint in [*listed(conn, limit=1_000_000), *extra]:
        report.checkpoints_checked += 1
        if not verifier.verify(checkpoint.key_id, checkpoint.payload(), checkpoint.signature):
            report.damage.append(Damage(checkpoint.seq, "forged checkpoint",
                                        "the checkpoint signature does not verify"))
        elif checkpoint.seq > report.head_seq and not report.damage:
            report.damage.append(Damage(report.head_seq + 1, "truncated",
                                        f"the chain ends at {report.head_seq}, a checkpoint signed {checkpoint.seq}"))
        elif checkpoint.seq in at and at[checkpoint.seq] != checkpoint.hash:
            report.damage.append(Damage(checkpoint.seq, "rewritten", "the chain differs from the signed checkpoint"))


def orphan_links(conn: Connection) -> int:
    query = select(func.count()).select_from(event_customers).where(
        ~exists().where(chain.c.event_id == event_customers.c.event_id))
    return int(conn.execute(query).scalar_one())


def verify(conn: Connection, verifier: Verifier, *, against: list[Checkpoint] | None = None) -> Report:
    """Verify the whole log as seen by `conn` (read-only)."""
    report = Report()
    extra = list(against or [])
    at = verify_chain(conn, report)
    # hashes at the seqs of external checkpoints too (they may not be in the table)
    for checkpoint in extra:
        if checkpoint.seq not in at and checkpoint.seq <= report.head_seq and report.ok:
            stored = conn.execute(select(chain.c.hash).where(chain.c.seq == checkpoint.seq)).scalar()
            if stored is not None:
                at[checkpoint.seq] = bytes(stored)
    verify_checkpoints(conn, report, verifier, at, extra)
    if report.ok and (orphans := orphan_links(conn)):
        report.damage.append(Damage(report.head_seq + 1, "links", f"{orphans} customer link(s) to unchained events"))
    report.pending = pending_count(conn)
    return report


