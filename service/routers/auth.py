"""Sign-in: the OAuth2 password form → a bearer token. Public by nature."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from prometheus_client import Counter

from archive.auditing import Auditor, actor_of
from archive.errors import AuthenticationFailed, TooManyAttempts
from archive.identity.service import principal_of
from audit.events import Actor, ActorKind, AuditAction, Decision
from service.deps import ClientAddress, Context, Identity, Uow, request_id
from service.logging import log
from service.schemas import TokenOut

router = APIRouter(prefix="/api/v1/auth", tags=["authentication"])

AUTH_FAILURES = Counter("archive_auth_failures_total", "Failed sign-ins and rejected tokens", ["reason"])


@router.post(
    "/token",
    response_model=TokenOut,
    summary="Sign in with username and password",
    description="OAuth2 password form. Wrong password and unknown user give the same 401 problem; "
    "repeated failures give 429 with `Retry-After`.",
    responses={401: {"description": "Wrong credentials"}, 429: {"description": "Throttled"}},
)
def issue_token(
    request: Request,
    username: Annotated[str, Form(max_length=64)],
    password: Annotated[str, Form(max_length=1024)],
    ctx: Context,
    identity: Identity,
    uow: Uow,
    address: ClientAddress,
) -> TokenOut:
    try:
        ctx.throttle.check(username, address)
    except TooManyAttempts:
        AUTH_FAILURES.labels("throttled").inc()
        log.warning("auth.login.throttled", client=address)
        raise
    anonymous = Auditor(Actor(ActorKind.USER, "", ""), request_id(request), address, ctx.policy.version)
    try:
        user = identity.authenticate(username, password)
    except AuthenticationFailed as failure:
        ctx.throttle.failed(username, address)
        AUTH_FAILURES.labels("bad_credentials").inc()
        log.info("auth.login.failed", client=address)
        uow.rollback()
        # The attempted username is identifying: the log keeps only its keyed hash.
        anonymous.record(uow.session, AuditAction.AUTH_LOGIN_FAILED, Decision.DENIED,
                         reason="wrong credentials, unknown user or disabled account",
                         lookup_hmacs=(ctx.audit_lookup.token("username", username),))
        uow.commit()
        raise failure from None
    token, expires_in = ctx.tokens.issue(subject=str(user.id), token_version=user.token_version,
                                         roles=user.roles)
    Auditor(actor_of(principal_of(user)), request_id(request), address, ctx.policy.version).record(
        uow.session, AuditAction.AUTH_LOGIN, resource_type="user", resource_id=str(user.id))
    uow.commit()
    log.info("auth.login", user_id=str(user.id))
    return TokenOut(access_token=token, expires_in=expires_in)
