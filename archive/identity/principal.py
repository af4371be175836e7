"""The authenticated caller, as every service and the gate see it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Principal:
    id: uuid.UUID
    username: str
    kind: str  # "staff" | "customer"
    roles: frozenset[str]
    department_id: uuid.UUID | None = None
    department_code: str | None = None
    customer_id: uuid.UUID | None = None

    @property
    def is_customer(self) -> bool:
        return self.kind == "customer"

    def has_role(self, role: str) -> bool:
        return role in self.roles
