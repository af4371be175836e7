"""Opening, closing and reviewing break-glass (DOMAIN.md "Who may read what", compliance_officer).

Who may open and who may review are fixed by DOMAIN.md, not by purpose rules: opening is the
compliance officer's, the review belongs to someone else — another compliance officer or the
general manager — so nobody clears their own emergency access. What an open break-glass lets
its officer read is decided by the gate from `policies/` (via `break_glass`).
"""

from __future__ import annotations

import uuid
from datetime import timedelta
from enum import StrEnum

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.breakglass.models import BreakGlass, active_break_glass
from archive.customers.models import Customer
from archive.db import utcnow
from archive.errors import ArchiveError, Conflict, FieldError, Forbidden, InvalidInput, NotFound
from archive.gate import refuse
from archive.identity.principal import Principal
from archive.vocabulary import Role
from audit.events import AuditAction, Decision

DEFAULT_MINUTES = 60
MAX_MINUTES = 240
MIN_JUSTIFICATION = 20  # characters: a reason a reviewer can judge, not "urgent"
OPENERS = frozenset({Role.COMPLIANCE_OFFICER})
REVIEWERS = frozenset({Role.COMPLIANCE_OFFICER, Role.GENERAL_MANAGER})


class ReviewOutcome(StrEnum):
    JUSTIFIED = "justified"
    UNJUSTIFIED = "unjustified"


class BreakGlassDesk:
    """The three steps, each an audit event in the same transaction as its row."""

    def __init__(self, session: Session, auditor: Auditor, policy_version: str = "") -> None:
        self.session = session
        self.auditor = auditor
        self.policy_version = policy_version

    def _refuse(self, action: AuditAction, error: Forbidden, customer_id: uuid.UUID | None = None,
                resource_id: str = "") -> ArchiveError:
        return refuse(self.session, self.auditor, action, error, resource_type="break_glass",
                      resource_id=resource_id, customer_ids=(customer_id,) if customer_id else (),
                      break_glass=True, policy_version=self.policy_version)

    def open(self, principal: Principal, customer_id: uuid.UUID, justification: str,
             minutes: int = DEFAULT_MINUTES) -> BreakGlass:
        action = AuditAction.BREAK_GLASS_OPENED
        if not principal.roles & OPENERS:
            raise self._refuse(action, Forbidden("Only a compliance officer may open break-glass."), customer_id)
        text = justification.strip()
        problems = []
        if len(text) < MIN_JUSTIFICATION:
            problems.append(FieldError("justification", f"write at least {MIN_JUSTIFICATION} characters on why "
                                                        "emergency access is needed; a reviewer will read it"))
        if not 1 <= minutes <= MAX_MINUTES:
            problems.append(FieldError("minutes", f"between 1 and {MAX_MINUTES} (default {DEFAULT_MINUTES})"))
        if problems:
            raise InvalidInput("Break-glass needs a written justification and a bounded duration.", errors=problems)
        if self.session.get(Customer, customer_id) is None:
            raise NotFound("No such customer.")
        if active_break_glass(self.session, principal.id, customer_id) is not None:
            raise Conflict("You already have open break-glass on this customer; close it or let it expire first.")
        now = utcnow()
        row = BreakGlass(customer_id=customer_id, opened_by=principal.id, justification=text, opened_at=now,
                         expires_at=now + timedelta(minutes=minutes))
        self.session.add(row)
        self.session.flush()
        # The justification stays in the break-glass row; the log names the row, not the words.
        self.auditor.record(self.session, action, Decision.ALLOWED, resource_type="break_glass",
                            resource_id=str(row.id), customer_ids=(customer_id,), purpose="audit",
                            reason=f"break-glass opened for {minutes} min; awaits review", break_glass=True,
                            policy_version=self.policy_version)
        return row

    def close(self, principal: Principal, break_glass_id: uuid.UUID) -> BreakGlass:
        row = self.session.get(BreakGlass, break_glass_id)
        if row is None or row.opened_by != principal.id:
            raise NotFound("No such break-glass of yours.")
        if row.closed_at is None and row.expires_at > utcnow():
            row.closed_at = utcnow()
            self.auditor.record(self.session, AuditAction.BREAK_GLASS_CLOSED, Decision.ALLOWED,
                                resource_type="break_glass", resource_id=str(row.id),
                                customer_ids=(row.customer_id,), reason="closed by the officer before expiry",
                                break_glass=True, policy_version=self.policy_version)
        return row

    def _require_reviewer(self, principal: Principal) -> None:
        if not principal.roles & REVIEWERS:
            raise self._refuse(AuditAction.BREAK_GLASS_REVIEWED, Forbidden(
                "Break-glass is reviewed by a compliance officer or the general manager."))

    def pending(self, principal: Principal, limit: int = 100) -> list[BreakGlass]:
        """Every break-glass not yet reviewed, oldest first (open ones too: they are visible early)."""
        self._require_reviewer(principal)
        rows = self.session.scalars(select(BreakGlass).where(BreakGlass.reviewed_at.is_(None))
                                    .order_by(BreakGlass.opened_at).limit(limit))
        return list(rows)

    def review(self, principal: Principal, break_glass_id: uuid.UUID, outcome: ReviewOutcome,
               note: str) -> BreakGlass:
        action = AuditAction.BREAK_GLASS_REVIEWED
        self._require_reviewer(principal)
        row = self.session.get(BreakGlass, break_glass_id)
        if row is None:
            raise NotFound("No such break-glass.")
        if row.opened_by == principal.id:
            raise self._refuse(action, Forbidden("You opened this break-glass; someone else reviews it."),
                               row.customer_id, str(row.id))
        if row.reviewed_at is not None:
            raise Conflict("This break-glass has already been reviewed.")
        now = utcnow()
        if row.closed_at is None and row.expires_at > now:
            row.closed_at = now  # a review ends the emergency access it judges
        row.reviewed_by, row.reviewed_at = principal.id, now
        row.review_outcome, row.review_note = outcome.value, note.strip()
        self.auditor.record(self.session, action, Decision.ALLOWED, resource_type="break_glass",
                            resource_id=str(row.id), customer_ids=(row.customer_id,),
                            reason=f"reviewed: {outcome.value}", break_glass=True,
                            policy_version=self.policy_version)
        return row
