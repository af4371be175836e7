"""What the gate admitted for one act, and the grant that comes with it once the act's
allowed event is committed."""

from __future__ import annotations

import uuid
from collections.abc import Callable

from archive.policy.decision import PurposeDecision
from crypto.grants import Grant, GrantKind


class GrantPending(RuntimeError):
    """Plaintext was asked for before the unit of work committed the act's allowed event (or
    after it rolled back): no grant exists yet, so nothing is opened."""


class Admission:
    """The gate's yes to one act: the decision (None for a system act), the customers it
    names and the kind of grant it carries. `grant` exists only once the unit of work that
    holds the allowed event has committed (`UnitOfWork.after_commit`); before that, and for
    good if the unit rolled back, asking for it raises `GrantPending`."""

    __slots__ = ("_grant", "customer_ids", "decision", "fields", "kind")

    def __init__(self, decision: PurposeDecision | None, kind: GrantKind,
                 customer_ids: tuple[uuid.UUID, ...] | None, fields: frozenset[str] | None) -> None:
        self.decision = decision
        self.kind = kind
        self.customer_ids = customer_ids
        self.fields = fields  # `table.column`, what the grant will open
        self._grant: Grant | None = None

    @property
    def granted(self) -> bool:
        return self._grant is not None

    @property
    def grant(self) -> Grant:
        if self._grant is None:
            raise GrantPending("no grant before the act's audit event is committed: open plaintext after the "
                               "unit of work has ended")
        return self._grant

    def _issue(self, mint: Callable[[], Grant]) -> Callable[[], None]:
        """The after-commit callback that mints this admission's grant (the gate's only)."""

        def issue() -> None:
            self._grant = mint()

        return issue

    def __repr__(self) -> str:
        customers = "any" if self.customer_ids is None else len(self.customer_ids)
        return f"Admission(kind={self.kind.value}, customers={customers}, granted={self.granted})"
