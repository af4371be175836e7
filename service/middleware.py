"""The request envelope, as one pure ASGI middleware: request id in and out, body-size limit
(413), metrics and one log line per request, and a generic 500 problem for anything unexpected
(logged with the request id, never shown)."""

from __future__ import annotations

import re
import time
import uuid

import structlog
from prometheus_client import Counter, Histogram
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from service.logging import log
from service.problems import internal_error, problem

REQUEST_ID = re.compile(r"^[A-Za-z0-9._\-]{1,64}$")

REQUESTS = Counter("archive_http_requests_total", "HTTP requests", ["method", "route", "status"])
LATENCY = Histogram(
    "archive_http_request_duration_seconds", "HTTP request latency", ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)


class BodyTooLarge(Exception):
    pass


class RequestEnvelope:
    def __init__(self, app: ASGIApp, *, max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        request_id = incoming if REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.perf_counter()
        status = {"code": 500, "sent": False}

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"], status["sent"] = message["status"], True
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            length = int(headers.get("content-length", "0") or 0)
        except ValueError:
            length = 0
        try:
            if length > self.max_body_bytes:
                raise BodyTooLarge
            await self.app(scope, self._limited(receive), send_with_id)
        except BodyTooLarge:
            if not status["sent"]:
                await problem(413, slug="too-large", title="Request body too large",
                              detail=f"The limit is {self.max_body_bytes} bytes.")(scope, receive, send_with_id)
        except Exception as exc:  # the last line of defence: never a stack trace to the client
            log.error("request.failed", error=type(exc).__name__, exc_info=exc)
            if not status["sent"]:
                await internal_error()(scope, receive, send_with_id)
        finally:
            route = _route_of(scope)
            elapsed = time.perf_counter() - started
            REQUESTS.labels(scope["method"], route, str(status["code"])).inc()
            LATENCY.labels(scope["method"], route).observe(elapsed)
            log.info("request", method=scope["method"], route=route, status=status["code"],
                     ms=round(elapsed * 1000, 1))
            structlog.contextvars.clear_contextvars()

    def _limited(self, receive: Receive) -> Receive:
        seen = 0
        limit = self.max_body_bytes

        async def limited() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > limit:
                    raise BodyTooLarge
            return message

        return limited


def _route_of(scope: Scope) -> str:
    """The route template (`/api/v1/users/{user_id}`), never the concrete path."""
    route = scope.get("route")
    path = getattr(route, "path_format", None) or getattr(route, "path", None)
    return str(path) if path else "unmatched"
