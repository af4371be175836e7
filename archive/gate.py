"""The governance gate: the one place that decides access to customer data and to the access
log, and writes the event for every decision — allowed or denied — before anything is shown.

So far it serves the access log itself (purpose `audit`); the customer-data decision (scope,
fields, masking, the `Grant` that decryption requires) builds on `archive.policy` next.
Order of checks (API.md): authentication (done before) → purpose missing or unknown (400,
naming the purposes the caller may use) → purpose the role may not use or that does not fit
the endpoint (403). Every refusal from the purpose step on is an audit event.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.errors import BadRequest, Forbidden
from archive.identity.principal import Principal
from archive.policy import PolicyEngine
from archive.vocabulary import Purpose
from audit.events import AuditAction, Decision


def _purpose(engine: PolicyEngine, principal: Principal, stated: str | None) -> Purpose:
    usable = ", ".join(p.value for p in engine.usable_purposes(principal.roles)) or "none"
    if not stated:
        raise BadRequest(f"State why you read this: send the X-Purpose header. Purposes you may use: {usable}.")
    try:
        return Purpose(stated)
    except ValueError:
        raise BadRequest(f"Unknown purpose {stated!r}. Purposes you may use: {usable}.") from None


def authorize_log_access(
    session: Session, engine: PolicyEngine, principal: Principal, stated: str | None, auditor: Auditor,
    action: AuditAction,
) -> None:
    """Only a role that may state purpose `audit` reads the access log, and only under it.
    A refusal is recorded (and committed by the caller) before it is raised."""
    try:
        purpose = _purpose(engine, principal, stated)
        if purpose is not Purpose.AUDIT:
            raise Forbidden(f"The access log is read under purpose 'audit', not {purpose.value!r}.")
        if purpose not in engine.usable_purposes(principal.roles):
            raise Forbidden("Your role may not use purpose 'audit': the access log is for compliance officers.")
    except (BadRequest, Forbidden) as refusal:
        auditor.record(session, action, Decision.DENIED, resource_type="audit_log", purpose=stated or "",
                       reason=refusal.detail, policy_version=engine.version)
        session.commit()
        raise
    auditor.record(session, action, Decision.ALLOWED, resource_type="audit_log", purpose=purpose.value,
                   reason="compliance review", policy_version=engine.version)
