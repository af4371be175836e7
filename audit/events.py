"""What an audit event says: dotted action names in one enum, decisions, actors, and the
event content as a value. Identifiers only, never field values."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from enum import StrEnum


class AuditAction(StrEnum):
    # identity
    AUTH_LOGIN = "auth.login"
    AUTH_LOGIN_FAILED = "auth.login.failed"
    USER_CREATED = "user.created"
    USER_CHANGED = "user.changed"
    USER_SESSIONS_REVOKED = "user.sessions_revoked"
    DEPARTMENT_CREATED = "department.created"
    # customer data
    CUSTOMER_READ = "customer.read"
    CUSTOMER_LIST = "customer.list"
    CUSTOMER_SEARCH = "customer.search"
    CUSTOMER_CREATE = "customer.create"
    CUSTOMER_UPDATE = "customer.update"
    CUSTOMER_IMPORT = "customer.import"
    CUSTOMER_STATUS = "customer.status"
    CUSTOMER_ASSIGN = "customer.assign"
    DOCUMENT_LIST = "document.list"
    DOCUMENT_READ = "document.read"
    DOCUMENT_CONTENT_READ = "document.content.read"
    DOCUMENT_UPLOAD = "document.upload"
    CONTRACT_CREATE = "contract.create"
    CONTRACT_LIST = "contract.list"
    CONTRACT_READ = "contract.read"
    CONTRACT_EVENT = "contract.event"
    CONTRACT_HANDOVER = "contract.handover"
    CONTRACT_ARCHIVE = "contract.archive"
    CONTRACTS_OVERDUE = "contract.overdue"
    BREAK_GLASS_OPENED = "break_glass.opened"
    BREAK_GLASS_REVIEWED = "break_glass.reviewed"
    BREAK_GLASS_CLOSED = "break_glass.closed"
    # later areas
    LOAN_CHECKOUT = "loan.checkout"
    CONSENT_OPT_OUT = "consent.opt_out"
    GRADE_PUBLISHED = "grade.published"
    EXPORT_CREATED = "export.created"
    # keys, policy, the log itself
    KEY_ROTATED = "key.rotated"
    KEY_REWRAPPED = "key.rewrapped"
    KEY_RETIRED = "key.retired"
    KEY_DESTROYED = "key.destroyed"
    POLICY_RELEASED = "policy.released"
    POLICY_RELOADED = "policy.reloaded"
    AUDIT_READ = "audit.read"
    AUDIT_VERIFIED = "audit.verified"
    AUDIT_LOOKUP = "audit.lookup"
    AUDIT_CHECKPOINT = "audit.checkpoint"
    BLOBS_CHECKED = "blobs.checked"
    SYSTEM_SEEDED = "system.seeded"


class Decision(StrEnum):
    ALLOWED = "allowed"
    DENIED = "denied"


class ActorKind(StrEnum):
    USER = "user"
    CUSTOMER = "customer"
    SYSTEM = "system"


@dataclass(frozen=True, slots=True)
class Actor:
    kind: ActorKind
    id: str  # user id, or for `system` the command ("cli:keys rotate", "worker")
    name: str = ""  # username, or the OS user for a system actor
    roles: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EventDraft:
    """An event as the caller describes it; `AuditLog.append` adds id and time."""

    actor: Actor
    action: AuditAction | str
    decision: Decision
    resource_type: str = ""
    resource_id: str = ""
    customer_ids: tuple[uuid.UUID, ...] = ()
    purpose: str = ""
    categories: tuple[str, ...] = ()
    fields: tuple[str, ...] = ()
    reason: str = ""
    policy_rule: str = ""
    policy_version: str = ""
    request_id: str = ""
    client_address: str = ""
    lookup_hmacs: tuple[str, ...] = ()
    break_glass: bool = False
    extra: dict[str, str] = field(default_factory=dict)
