"""Writing audit events from the archive: who is acting (user, customer or system), in which
request, and the rule that an act whose event cannot be written does not happen."""

from __future__ import annotations

import getpass
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archive.errors import Unavailable
from archive.identity.principal import Principal
from audit import log as audit_log
from audit.events import Actor, ActorKind, AuditAction, Decision, EventDraft

AUDIT_UNAVAILABLE = "The access log cannot be written right now, so nothing was done. Try again shortly."

# Every event names the policy version in force when it was written. A serving process points
# this at its engine (`follow_policy`); a command without one reads the version of the files.
_policy_source: Callable[[], str] | None = None


def follow_policy(source: Callable[[], str]) -> None:
    global _policy_source
    _policy_source = source


@cache
def _files_version() -> str:
    from archive.policy.engine import default_policy_dir
    from archive.policy.files import policy_version

    try:
        return policy_version(default_policy_dir())
    except OSError:
        return ""


def current_policy_version() -> str:
    return _policy_source() if _policy_source is not None else _files_version()


def actor_of(principal: Principal) -> Actor:
    kind = ActorKind.CUSTOMER if principal.is_customer else ActorKind.USER
    return Actor(kind, str(principal.id), principal.username, tuple(sorted(principal.roles)))


def system_actor(command: str | None = None) -> Actor:
    """A CLI command or the worker, with the OS user who ran it."""
    try:
        os_user = getpass.getuser()
    except (KeyError, OSError):
        os_user = str(os.getuid())
    return Actor(ActorKind.SYSTEM, command or "cli:" + " ".join(sys.argv[1:3]), os_user)


@dataclass(frozen=True, slots=True)
class Auditor:
    """Records events for one actor in one request (or one command)."""

    actor: Actor
    request_id: str = ""
    client_address: str = ""

    def record(self, session: Session | Connection, action: AuditAction | str,
               decision: Decision = Decision.ALLOWED, **details: object) -> None:
        """Insert the event in the session's transaction; the act commits with it or not at all."""
        self.write(session, self.prepare(action, decision, **details))

    def prepare(self, action: AuditAction | str, decision: Decision = Decision.ALLOWED,
                **details: object) -> PreparedEvent:
        """The event `record` would insert, made now and inserted by `write` later in the same
        act: for an act that can build its event while it waits on the database."""
        if not details.get("policy_version"):
            details["policy_version"] = current_policy_version()
        draft = EventDraft(actor=self.actor, action=action, decision=decision, request_id=self.request_id,
                           client_address=self.client_address, **details)  # type: ignore[arg-type]
        return PreparedEvent(audit_log.row_of(draft))

    def write(self, session: Session | Connection, event: PreparedEvent) -> None:
        try:
            audit_log.append_row(session, event.row)
        except SQLAlchemyError as exc:
            raise Unavailable(AUDIT_UNAVAILABLE) from exc


@dataclass(frozen=True, slots=True)
class PreparedEvent:
    """An event's row, made by `Auditor.prepare`, not yet written."""

    row: dict[str, object]
