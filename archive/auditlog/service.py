"""Operations on the log as a whole, shared by the CLI, the worker and the HTTP layer:
integrate pending events, verify, and make or list checkpoints — each itself audited."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Connection

from archive.auditing import Auditor
from archive.db import Database
from archive.keyfiles import CheckpointKeys
from audit import checkpoints
from audit.chain import integrate, integrate_batch
from audit.checkpoints import Checkpoint
from audit.events import AuditAction, Decision
from audit.verify import Report, verify


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
