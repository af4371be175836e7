"""Shapes every resource shares: a page of a list, and the problem document (RFC 9457) with the
helper that declares a route's problem responses in the OpenAPI."""

from __future__ import annotations

from typing import Any, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

PROBLEM_MEDIA_TYPE = "application/problem+json"


class Page(BaseModel, Generic[T]):
    items: list[T]
    next_cursor: str | None = Field(None, description="Pass as `?cursor=` for the next page; null at the end.")


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "title": "Problem",
    "description": "RFC 9457 problem details. Never a stack trace.",
    "required": ["type", "title", "status", "detail"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the kind of problem."},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string", "description": "What happened and what to change, for a person."},
        "errors": {
            "type": "array",
            "description": "Per-field failures (validation, imports).",
            "items": {
                "type": "object",
                "required": ["field", "message"],
                "properties": {"field": {"type": "string"}, "message": {"type": "string"},
                               "line": {"type": "integer", "description": "The file's line, for an import."}},
            },
        },
    },
}

WHY = {
    400: "Bad request: a missing or unknown `X-Purpose` (the detail names the purposes you may use), "
         "or a request that cannot be acted on as sent.",
    401: "Not signed in, or the token is invalid, expired or revoked.",
    403: "Refused: your role or purpose does not allow this (the detail says why and what to do, "
         "e.g. request a loan).",
    404: "No such record, or one outside anything you could ever read.",
    409: "Conflicts with the current state (a duplicate, a step out of order).",
    410: "The customer's data was destroyed for good (crypto-shredding).",
    412: "If-Match did not match: the record changed since you read it.",
    413: "The body is larger than this route accepts.",
    415: "Unsupported media type.",
    422: "Invalid input; `errors` lists each field.",
    428: "If-Match is required for this change.",
    429: "Too many attempts; retry after `Retry-After` seconds.",
    503: "Unavailable (e.g. the access log cannot be written); nothing was done. Retry later.",
}

# Every route can give these: authentication is applied at mount, the body and query are
# validated, and an unwritable access log refuses the act.
COMMON = (401, 422, 503)


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI `responses=` entry for a route: each status as `application/problem+json`,
    plus the ones every authenticated route can give (`COMMON`)."""
    return {status: {"description": WHY.get(status, "A problem."),
                     "content": {PROBLEM_MEDIA_TYPE: {"schema": _PROBLEM_SCHEMA}}}
            for status in sorted({*statuses, *COMMON})}
