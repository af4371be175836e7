"""The one refusal path: an `ArchiveError` that carries the writing of its own denied event
(`outlives_rollback`). The unit of work (archive/db.py) rolls the refused act back, writes the
event, commits it and raises the error on — so a refusal leaves its event and nothing else."""

from __future__ import annotations

from typing import TypeVar

from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.errors import ArchiveError
from archive.vocabulary import Action
from audit.events import AuditAction, Decision

E = TypeVar("E", bound=ArchiveError)

LOAN_POINTER = "request one at POST /api/v1/loans"
BREAK_GLASS_POINTER = "POST /api/v1/break-glass"


def deny(auditor: Auditor, action: AuditAction | Action | str, error: E, **details: object) -> E:
    """`error`, set to write one `denied` event for `action` (reason: the error's detail, plus
    `details` as for `Auditor.record`) when a unit of work sees it leave its block. Raise what
    it returns, inside `with uow:`; outside one nothing would write the event."""
    name = str(action)

    def record(session: Session) -> None:
        auditor.record(session, name, Decision.DENIED, reason=error.detail, **details)

    error.outlives_rollback = record
    return error
