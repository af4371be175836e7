"""Writing audit events from the archive: who is acting (user, customer or system), in which
request, and the rule that an act whose event cannot be written does not happen."""

from __future__ import annotations

import getpass
import os
import sys
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from archive.errors import Unavailable
from audit import log as audit_log
from audit.events import Actor, ActorKind, AuditAction, Decision, EventDraft

AUDIT_UNAVAILABLE = "The access log cannot be written right now, so nothing was done. Try again shortly."


class Acting(Protocol):
    """Who acts, as far as the log names them (`archive.identity.principal.Principal` is one:
    this module needs nothing else of identity, which records through it)."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def username(self) -> str: ...

    @property
    def roles(self) -> Iterable[str]: ...

    @property
    def is_customer(self) -> bool: ...


def actor_of(principal: Acting) -> Actor:
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
    """Records events for one actor in one request (or one command).

    Every event names the policy version in force. The caller says which: a serving process
    gives its engine's version when it makes the auditor for a request, a command the version
    of the files it loaded; an event of a decision names the decision's own version, which
    wins. This module never asks the policy itself (archive/policy/ records through it)."""

    actor: Actor
    request_id: str = ""
    client_address: str = ""
    policy_version: str = ""

    def record(self, session: Session | Connection, action: AuditAction | str,
               decision: Decision = Decision.ALLOWED, **details: object) -> None:
        """Insert the event in the session's transaction; the act commits with it or not at all."""
        self.write(session, self.prepare(action, decision, **details))

    def prepare(self, action: AuditAction | str, decision: Decision = Decision.ALLOWED,
                **details: object) -> PreparedEvent:
        """The event `record` would insert, made now and inserted by `write` later in the same
        act: for an act that can build its event while it waits on the database."""
        if not details.get("policy_version"):
            details["policy_version"] = self.policy_version
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
