"""Opening, closing and reviewing break-glass (DOMAIN.md "Who may read what", compliance_officer).

Who may open and who may review is policy data (`break_glass.open`, `break_glass.review` in
policies/permissions.csv). The rest are rules here: a written justification and a bounded
duration, one open break-glass per officer and customer, and a review by someone other than
the officer who opened it, so nobody clears their own emergency access. What an open
break-glass lets its officer read is decided per read by the gate (via break_glass), from the
fact `BreakGlassRepository.is_open` that the reading service hands it.

Each act is one unit of work with its audit event; a refusal by role or by the own-review rule
writes its `denied` event through the unit of work's refusal path (`outlives_rollback`).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import timedelta

from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.breakglass.models import BreakGlass, ReviewOutcome
from archive.breakglass.repository import BreakGlassRepository
from archive.db import UnitOfWork, utcnow
from archive.errors import Conflict, FieldError, Forbidden, InvalidInput, NotFound
from archive.identity.principal import Principal
from archive.policy.engine import PolicyEngine
from archive.vocabulary import Permission
from audit.events import AuditAction, Decision

DEFAULT_MINUTES = 60
MAX_MINUTES = 240
MIN_JUSTIFICATION = 20  # characters: a reason a reviewer can judge, not "urgent"

__all__ = ["DEFAULT_MINUTES", "MAX_MINUTES", "MIN_JUSTIFICATION", "BreakGlassService", "ReviewOutcome"]


class BreakGlassService:
    def __init__(self, uow: UnitOfWork, policy: PolicyEngine, auditor: Auditor) -> None:
        self.uow = uow
        self.repo = BreakGlassRepository(uow.session)
        self.policy = policy
        self.auditor = auditor

    def open(self, principal: Principal, customer_id: uuid.UUID, justification: str,
             minutes: int = DEFAULT_MINUTES) -> BreakGlass:
        action = AuditAction.BREAK_GLASS_OPENED
        with self.uow:
            self._require(principal, Permission.BREAK_GLASS_OPEN, action,
                          "Only a compliance officer may open break-glass.", customer_id)
            text = justification.strip()
            _check_request(text, minutes)
            if not self.repo.customer_exists(customer_id):
                raise NotFound("No such customer.")
            if self.repo.open_for(principal.id, customer_id) is not None:
                raise Conflict("You already have open break-glass on this customer; close it or let it expire first.")
            now = utcnow()
            row = self.repo.add(BreakGlass(customer_id=customer_id, opened_by=principal.id, justification=text,
                                           opened_at=now, expires_at=now + timedelta(minutes=minutes)))
            # The justification stays in the break-glass row; the log names the row, not the words.
            self._record(action, row, purpose="audit", reason=f"break-glass opened for {minutes} min; awaits review")
        return row

    def close(self, principal: Principal, break_glass_id: uuid.UUID) -> BreakGlass:
        with self.uow:
            row = self.repo.get(break_glass_id)
            if row is None or row.opened_by != principal.id:
                raise NotFound("No such break-glass of yours.")
            if row.active(utcnow()):
                row.closed_at = utcnow()
                self._record(AuditAction.BREAK_GLASS_CLOSED, row, reason="closed by the officer before expiry")
        return row

    def pending(self, principal: Principal, limit: int = 100) -> Sequence[BreakGlass]:
        """Every break-glass not yet reviewed, oldest first (open ones too: they are visible early)."""
        with self.uow:
            self._require_reviewer(principal)
            return self.repo.unreviewed(limit)

    def review(self, principal: Principal, break_glass_id: uuid.UUID, outcome: ReviewOutcome,
               note: str) -> BreakGlass:
        action = AuditAction.BREAK_GLASS_REVIEWED
        with self.uow:
            self._require_reviewer(principal)
            row = self.repo.get(break_glass_id)
            if row is None:
                raise NotFound("No such break-glass.")
            if row.opened_by == principal.id:
                raise self._refusal(action, Forbidden("You opened this break-glass; someone else reviews it."),
                                    row.customer_id, str(row.id))
            if row.reviewed_at is not None:
                raise Conflict("This break-glass has already been reviewed.")
            now = utcnow()
            if row.active(now):
                row.closed_at = now  # a review ends the emergency access it judges
            row.reviewed_by, row.reviewed_at = principal.id, now
            row.review_outcome, row.review_note = outcome.value, note.strip()
            self._record(action, row, reason=f"reviewed: {outcome.value}")
        return row

    # --- rules and events -------------------------------------------------------------------------
    def _require_reviewer(self, principal: Principal) -> None:
        self._require(principal, Permission.BREAK_GLASS_REVIEW, AuditAction.BREAK_GLASS_REVIEWED,
                      "Break-glass is reviewed by a compliance officer or the general manager.")

    def _require(self, principal: Principal, permission: Permission, action: AuditAction, refusal: str,
                 customer_id: uuid.UUID | None = None) -> None:
        decision = self.policy.permission(principal.roles, permission)
        if not decision.allowed:
            raise self._refusal(action, Forbidden(refusal), customer_id, policy_rule=decision.rule_text)

    def _refusal(self, action: AuditAction, error: Forbidden, customer_id: uuid.UUID | None = None,
                 resource_id: str = "", policy_rule: str = "") -> Forbidden:
        """`error`, set to write its one `denied` event when the unit of work rolls the act back."""
        auditor, version = self.auditor, self.policy.version

        def record(session: Session) -> None:
            auditor.record(session, action, Decision.DENIED, reason=error.detail, resource_type="break_glass",
                           resource_id=resource_id, customer_ids=(customer_id,) if customer_id else (),
                           break_glass=True, policy_rule=policy_rule, policy_version=version)

        error.outlives_rollback = record
        return error

    def _record(self, action: AuditAction, row: BreakGlass, **details: str) -> None:
        self.auditor.record(self.uow.session, action, Decision.ALLOWED, resource_type="break_glass",
                            resource_id=str(row.id), customer_ids=(row.customer_id,), break_glass=True,
                            policy_version=self.policy.version, **details)


def _check_request(justification: str, minutes: int) -> None:
    problems = []
    if len(justification) < MIN_JUSTIFICATION:
        problems.append(FieldError("justification", f"write at least {MIN_JUSTIFICATION} characters on why "
                                                    "emergency access is needed; a reviewer will read it"))
    if not 1 <= minutes <= MAX_MINUTES:
        problems.append(FieldError("minutes", f"between 1 and {MAX_MINUTES} (default {DEFAULT_MINUTES})"))
    if problems:
        raise InvalidInput("Break-glass needs a written justification and a bounded duration.", errors=problems)
