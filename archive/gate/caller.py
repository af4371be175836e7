"""What the gate is told about an act: who asks and why (`Caller`), and the few facts of a
record the service loaded and hands over (`CustomerRecord`). The gate reads no table itself."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from archive.auditing import Auditor
from archive.identity.principal import Principal


@dataclass(frozen=True, slots=True)
class Caller:
    """The signed-in caller of one request (or one command run as a user): who they are, the
    auditor that writes their events, and the purpose they stated (`X-Purpose`, None when not
    sent; a customer's own calls imply theirs)."""

    principal: Principal
    auditor: Auditor
    purpose: str | None = None


class CustomerRecord(Protocol):
    """What step 4 (scope) and the customer view need of a customer; `Customer` has it."""

    @property
    def id(self) -> uuid.UUID: ...

    @property
    def code(self) -> str: ...

    @property
    def kind(self) -> str: ...

    @property
    def owner_id(self) -> uuid.UUID | None: ...

    @property
    def department_id(self) -> uuid.UUID: ...


# (user id, customer id) -> whether that user has an open, unexpired break-glass on that
# customer. The service supplies it from the break-glass area; the gate asks only when the
# standard decision refuses and the policy would admit the act via break-glass.
BreakGlassLookup = Callable[[uuid.UUID, uuid.UUID], bool]
