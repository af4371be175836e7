"""TRANSITIONAL (issue 26): the gate's old entry points, kept only until their callers have moved
to the `Gate` API (archive/gate/__init__.py) and then deleted. Each is the new decision run with
the old transaction behaviour: a refusal's event is committed before the error is raised, so a
caller that does not yet run inside `with uow:` still leaves it.

Callers left: the importer (`CustomerGate.authorize_import`; the `Gate` call is `gate.decide(uow,
Caller(principal, auditor, purpose), Action.CUSTOMER_CREATE)`), and the audit router
(`authorize_log_access`; the `Gate` call is `gate.authorize_log(uow, caller, action)`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from archive.auditing import Auditor
from archive.db import UnitOfWork
from archive.errors import ArchiveError
from archive.gate.access import Gate, authorize_log
from archive.gate.caller import Caller
from archive.identity.principal import Principal
from archive.policy import PolicyEngine
from archive.policy.decision import PurposeDecision
from archive.vocabulary import Action
from audit.events import AuditAction
from crypto.grants import GrantAuthority

T = TypeVar("T")


def _commit_now(session: Session) -> None:
    with UnitOfWork(session):  # commits what the session holds: the old callers' refusal events
        pass


def _now(session: Session, call: Callable[[UnitOfWork], T]) -> T:
    """Run a `Gate` call on `session`; a refusal's event is written and committed at once."""
    try:
        return call(UnitOfWork(session))
    except ArchiveError as error:
        record, error.outlives_rollback = error.outlives_rollback, None
        if record is not None:
            session.rollback()
            record(session)
            _commit_now(session)
        raise


def authorize_log_access(session: Session, engine: PolicyEngine, principal: Principal, stated: str | None,
                         auditor: Auditor, action: AuditAction) -> None:
    """The old `Gate.authorize_log`: the allowed event left for the caller to commit."""
    _now(session, lambda uow: authorize_log(uow, engine, Caller(principal, auditor, stated), action))


class CustomerGate:
    """The old customer gate's call the importer still makes."""

    def __init__(self, gate: Gate) -> None:
        self.gate = gate

    @property
    def policy(self) -> PolicyEngine:
        return self.gate.policy

    @property
    def _authority(self) -> GrantAuthority:
        return self.gate._authority

    def authorize_import(self, session: Session, principal: Principal, stated: str | None,
                         auditor: Auditor) -> PurposeDecision:
        """An import is `customer.create` for every row under the caller's purpose."""
        caller = Caller(principal, auditor, stated)
        return _now(session, lambda uow: self.gate.decide(uow, caller, Action.CUSTOMER_CREATE))
