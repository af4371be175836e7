"""Sign-in: the OAuth2 password form → a bearer token. Public by nature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from prometheus_client import Counter

from archive.errors import AuthenticationFailed, TooManyAttempts
from archive.identity.service import LoginAttempt, SignInService
from service.deps import ClientAddress, Context, Uow, request_id
from service.schemas.common import problem_responses
from service.schemas.identity import TokenOut

router = APIRouter(prefix="/api/v1/auth", tags=["authentication"])

AUTH_FAILURES = Counter("archive_auth_failures_total", "Failed sign-ins and rejected tokens", ["reason"])


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in with username and password",
    description="OAuth2 password form. Wrong password and unknown user give the same 401 problem; "
    "repeated failures give 429 with `Retry-After`.",
    responses=problem_responses(401, 429),
)
def issue_token(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    ctx: Context,
    uow: Uow,
    address: ClientAddress,
) -> TokenOut:
    service = SignInService(uow, ctx.passwords, ctx.throttle, ctx.tokens, ctx.audit_lookup,
                            policy_version=ctx.policy.version)
    try:
        signed = service.sign_in(LoginAttempt(username, password, address, request_id(request)))
    except TooManyAttempts:
        AUTH_FAILURES.labels("throttled").inc()
        raise
    except AuthenticationFailed:
        AUTH_FAILURES.labels("bad_credentials").inc()
        raise
    return TokenOut(access_token=signed.access_token, expires_in=signed.expires_in)
