"""Every error as RFC 9457 `application/problem+json`, rendered in one place."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from archive.errors import ArchiveError, AuthenticationFailed, TooManyAttempts
from crypto.errors import KeyDestroyed

PROBLEM_BASE = "https://customer-archive.dev/problems/"
MEDIA_TYPE = "application/problem+json"

_HTTP_TITLES = {
    400: ("bad-request", "Bad request"),
    401: ("unauthenticated", "Authentication required"),
    403: ("forbidden", "Forbidden"),
    404: ("not-found", "Not found"),
    405: ("method-not-allowed", "Method not allowed"),
    413: ("too-large", "Request body too large"),
    415: ("unsupported-media-type", "Unsupported media type"),
    429: ("throttled", "Too many requests"),
    503: ("unavailable", "Service unavailable"),
}


def problem(
    status: int,
    *,
    slug: str,
    title: str,
    detail: str,
    errors: Sequence[Mapping[str, object]] | None = None,
    headers: dict[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    body: dict[str, Any] = {"type": PROBLEM_BASE + slug, "title": title, "status": status, "detail": detail}
    if errors is not None:
        body["errors"] = errors
    body.update(extra)
    return JSONResponse(body, status_code=status, media_type=MEDIA_TYPE, headers=headers)


def from_archive_error(exc: ArchiveError) -> JSONResponse:
    headers: dict[str, str] = {}
    if isinstance(exc, AuthenticationFailed):
        headers["WWW-Authenticate"] = 'Bearer realm="customer-archive"'
    if isinstance(exc, TooManyAttempts):
        headers["Retry-After"] = str(exc.retry_after)
    errors = [{"field": e.field, "message": e.message, **({"line": e.line} if e.line is not None else {})}
              for e in exc.errors] or None
    return problem(exc.status, slug=exc.type_slug, title=exc.title, detail=exc.detail, errors=errors,
                   headers=headers or None)


def _field_name(loc: tuple[Any, ...]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header", "form")]
    return ".".join(parts) or str(loc[0] if loc else "request")


def install(app: FastAPI) -> None:
    @app.exception_handler(ArchiveError)
    async def _archive(_request: Request, exc: ArchiveError) -> JSONResponse:
        return from_archive_error(exc)

    @app.exception_handler(KeyDestroyed)
    async def _shredded(_request: Request, _exc: KeyDestroyed) -> JSONResponse:
        # Crypto-shredding is final: say so, without the customer id the crypto error carries.
        return problem(410, slug="data-destroyed", title="Customer data destroyed",
                       detail="This customer's data was destroyed for good (its data key was erased); "
                              "the access log keeps the record that it happened.")

    @app.exception_handler(RequestValidationError)
    async def _validation(_request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [{"field": _field_name(tuple(e.get("loc", ()))), "message": str(e.get("msg"))}
                  for e in exc.errors()]
        return problem(422, slug="validation", title="Invalid input",
                       detail=f"{len(errors)} field(s) are invalid.", errors=errors)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        slug, title = _HTTP_TITLES.get(exc.status_code, ("http-error", "HTTP error"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = "There is nothing at this address."
        if exc.status_code == 405:
            detail = "This address does not accept that method."
        return problem(exc.status_code, slug=slug, title=title, detail=detail,
                       headers=dict(exc.headers) if exc.headers else None)


def internal_error() -> JSONResponse:
    """The generic 500: no exception text, no stack trace; the request id ties it to the log."""
    return problem(500, slug="internal", title="Internal error",
                   detail="Something went wrong on our side; quote the X-Request-ID when reporting it.")
