"""Domain errors. `service/` renders each once as problem+json; nothing here knows HTTP,
but each error names the status it means so the mapping stays in one table.

    ArchiveError
    ├── NotFound               404  (also: out of scope for someone who could never read it)
    ├── Conflict               409
    │   └── StaleVersion       412  (If-Match did not match)
    ├── PreconditionRequired   428  (a change without If-Match)
    ├── PayloadTooLarge        413
    ├── InvalidInput           422  (with per-field errors)
    ├── BadRequest             400
    ├── AuthenticationFailed   401
    ├── Forbidden              403
    ├── TooManyAttempts        429  (with retry_after seconds)
    └── Unavailable            503  (e.g. the audit log cannot be written)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlalchemy.orm import Session


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    message: str
    line: int | None = None  # the file's line, for an import


class ArchiveError(Exception):
    status = 500
    title = "Internal error"
    type_slug = "internal"

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []
        # Set by the gate on a refusal: writes the refusal's audit event. The unit of work
        # (archive/db.py) rolls the refused act back, then writes and commits this on its own.
        self.outlives_rollback: Callable[[Session], None] | None = None


class NotFound(ArchiveError):
    status, title, type_slug = 404, "Not found", "not-found"


class Conflict(ArchiveError):
    status, title, type_slug = 409, "Conflict", "conflict"


class StaleVersion(Conflict):
    status, title, type_slug = 412, "Precondition failed", "stale-version"


class PreconditionRequired(ArchiveError):
    status, title, type_slug = 428, "Precondition required", "precondition-required"


class PayloadTooLarge(ArchiveError):
    status, title, type_slug = 413, "Payload too large", "too-large"


class InvalidInput(ArchiveError):
    status, title, type_slug = 422, "Invalid input", "validation"


class BadRequest(ArchiveError):
    status, title, type_slug = 400, "Bad request", "bad-request"


class AuthenticationFailed(ArchiveError):
    status, title, type_slug = 401, "Authentication required", "unauthenticated"


class Forbidden(ArchiveError):
    status, title, type_slug = 403, "Forbidden", "forbidden"


class TooManyAttempts(ArchiveError):
    status, title, type_slug = 429, "Too many attempts", "throttled"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Unavailable(ArchiveError):
    status, title, type_slug = 503, "Service unavailable", "unavailable"
