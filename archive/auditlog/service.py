"""The access log as a whole: the compliance officer's reads of it (each itself audited, under
purpose `audit`, decided by the gate), and the operations the CLI and the worker run —
integrate pending events, verify, make checkpoints."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Row

from archive.auditing import Auditor
from archive.auditlog.repository import AuditLogRepository, Cursor, EventFilter, decode_cursor, encode_cursor
from archive.db import Database, UnitOfWork
from archive.errors import FieldError, InvalidInput
from archive.gate import Caller, Gate
from archive.keyfiles import CheckpointKeys
from audit import checkpoints
from audit.chain import integrate, integrate_batch
from audit.checkpoints import Checkpoint, Verifier
from audit.events import AuditAction, Decision
from audit.lookup import AuditLookup
from audit.verify import Report, verify

LOOKUP_LIMIT = 500  # events named by one lookup


@dataclass(frozen=True, slots=True)
class EventPage:
    rows: Sequence[Row[Any]]
    next_cursor: str | None


@dataclass(frozen=True, slots=True)
class LookupResult:
    appears: bool
    rows: Sequence[Row[Any]]


class AuditLogService:
    """Each read is one unit of work: the gate decides (purpose `audit`, for the roles that may
    state it) and writes the read's event, a refusal its denied event; then the query."""

    def __init__(self, uow: UnitOfWork, gate: Gate, *, lookup: AuditLookup, verifier: Verifier) -> None:
        self.uow = uow
        self.gate = gate
        self.lookup_key = lookup
        self.verifier = verifier
        self.repo = AuditLogRepository(uow.session)

    def events(self, caller: Caller, f: EventFilter, *, limit: int, cursor: str | None = None) -> EventPage:
        after = _cursor(cursor)
        with self.uow:
            self.gate.authorize_log(self.uow, caller, AuditAction.AUDIT_READ)
            rows = self.repo.events(f, limit=limit + 1, after=after)
        return EventPage(rows[:limit], encode_cursor(rows[limit - 1]) if len(rows) > limit else None)

    def verify(self, caller: Caller) -> Report:
        with self.uow:
            self.gate.authorize_log(self.uow, caller, AuditAction.AUDIT_VERIFIED)
            self.repo.chain_pending()  # this request's event included
            return self.repo.verify(self.verifier)

    def checkpoints(self, caller: Caller, *, limit: int) -> list[Checkpoint]:
        with self.uow:
            self.gate.authorize_log(self.uow, caller, AuditAction.AUDIT_READ)
            return self.repo.checkpoints(limit=limit)

    def unusual(self, caller: Caller, *, since_us: int, threshold: int) -> Sequence[Row[Any]]:
        with self.uow:
            self.gate.authorize_log(self.uow, caller, AuditAction.AUDIT_READ)
            return self.repo.unusual_volume(since_us=since_us, threshold=threshold)

    def lookup(self, caller: Caller, kind: str, value: str) -> LookupResult:
        """Whether an identifying value appears in the log: found by its keyed hashes, which
        are all the log (and this lookup's own event) ever holds of it."""
        tokens = tuple(self.lookup_key.tokens(kind, value))
        with self.uow:
            self.gate.authorize_log(self.uow, caller, AuditAction.AUDIT_LOOKUP)
            rows = self.repo.events(EventFilter(lookup_tokens=tokens), limit=LOOKUP_LIMIT)
        return LookupResult(bool(rows), rows)


def _cursor(cursor: str | None) -> Cursor | None:
    if not cursor:
        return None
    try:
        return decode_cursor(cursor)
    except ValueError:
        raise InvalidInput("The cursor is not one this list gave out.",
                           errors=[FieldError("cursor", "pass next_cursor of the previous page")]) from None


# --- the CLI's and the worker's -------------------------------------------------------------------
def verify_log(db: Database, keys: CheckpointKeys, auditor: Auditor, *, against: Path | None = None) -> Report:
    """Integrate what is pending, verify, then record that the log was verified (and how)."""
    integrate(db.engine)
    extra = [checkpoints.load(against)] if against else []
    with db.engine.connect() as conn:
        report = verify(conn, keys, against=extra)
    with db.unit_of_work() as uow:
        first = report.first
        auditor.record(uow.session, AuditAction.AUDIT_VERIFIED, Decision.ALLOWED, resource_type="audit_log",
                       reason="intact" if report.ok else f"damage at {first.seq}: {first.kind}" if first else "",
                       extra={"checked": str(report.checked), "head": str(report.head_seq)})
    integrate(db.engine)
    return report


def make_checkpoint(conn: Connection, keys: CheckpointKeys, auditor: Auditor) -> Checkpoint | None:
    """In the caller's transaction: record the checkpoint event, chain everything pending, then
    sign the head (which includes that event)."""
    auditor.record(conn, AuditAction.AUDIT_CHECKPOINT, Decision.ALLOWED, resource_type="audit_log")
    while integrate_batch(conn, full_scan=True):
        pass
    return checkpoints.make(conn, keys)
