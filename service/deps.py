"""Everything routers inject, as `Annotated` aliases: the context, the request's unit of work
(un-entered: the service enters it), the caller (`CurrentCaller`: principal, auditor and
`X-Purpose`, as the gate takes them), and one service per area (`Customers`, `Documents`,
`Contracts`, ...). Authentication is applied at router mount (`require_principal`), not per route.

A dependency that does no I/O is `async def`: FastAPI runs a plain `def` dependency in its
threadpool, a hop of its own on every request (a governed read took nine; now three: the
session, the principal's lookup and the route). Those that touch the database stay `def`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Annotated

from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from archive.auditing import Auditor, actor_of
from archive.breakglass.repository import BreakGlassRepository
from archive.contracts.repository import ContractRepository
from archive.contracts.service import ContractService
from archive.customers.service import CustomerService
from archive.db import UnitOfWork
from archive.documents.service import DocumentService
from archive.errors import AuthenticationFailed, Forbidden
from archive.gate import Caller
from archive.identity.principal import Principal
from archive.identity.repository import IdentityRepository
from archive.identity.service import IdentityService
from archive.vocabulary import Permission
from service.context import AppContext

bearer = HTTPBearer(auto_error=False, description="A token from POST /api/v1/auth/token")


async def get_context(request: Request) -> AppContext:
    ctx: AppContext = request.app.state.ctx
    return ctx


Context = Annotated[AppContext, Depends(get_context)]


def get_uow(ctx: Context) -> Iterator[UnitOfWork]:
    """This request's unit of work, not yet entered: the service the route calls runs `with uow:`
    around its work (one transaction, committed when the block ends). Nothing here commits;
    what is left uncommitted when the request ends is rolled back."""
    with ctx.db.session_factory() as session:
        yield UnitOfWork(session)


Uow = Annotated[UnitOfWork, Depends(get_uow)]


async def get_identity(ctx: Context, uow: Uow) -> IdentityService:
    return IdentityService(IdentityRepository(uow.session), ctx.passwords, uow=uow)


Identity = Annotated[IdentityService, Depends(get_identity)]


def require_principal(
    request: Request,
    ctx: Context,
    identity: Identity,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise AuthenticationFailed("Sign in first: send `Authorization: Bearer <token>`.")
    claims = ctx.tokens.verify(credentials.credentials)
    principal = identity.principal_for_token(claims)
    request.state.principal = principal
    return principal


CurrentPrincipal = Annotated[Principal, Depends(require_principal)]


def holding(permission: Permission, refusal: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, if their roles hold `permission` — policy data
    (`policies/permissions.csv`, `PolicyEngine.may`), not a role set in code; else 403."""

    async def require(principal: CurrentPrincipal, ctx: Context) -> Principal:
        if not ctx.policy.may(principal.roles, permission):
            raise Forbidden(refusal)
        return principal

    return require


UserAdmin = Annotated[Principal, Depends(holding(Permission.USER_MANAGE, "Only an administrator may manage users."))]
DepartmentAdmin = Annotated[Principal, Depends(holding(Permission.DEPARTMENT_MANAGE,
                                                       "Only an administrator may manage departments."))]
PolicyAdmin = Annotated[Principal, Depends(holding(Permission.POLICY_MANAGE,
                                                   "Only an administrator may see and release the policy."))]


async def client_address(request: Request, ctx: Context) -> str:
    if ctx.settings.server.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()
    return request.client.host if request.client else "unknown"


ClientAddress = Annotated[str, Depends(client_address)]


def request_id(request: Request) -> str:
    return str(request.scope.get("state", {}).get("request_id", ""))


async def get_auditor(request: Request, ctx: Context, principal: CurrentPrincipal, address: ClientAddress) -> Auditor:
    """Records events as the signed-in caller, tagged with this request and the policy in force."""
    return Auditor(actor_of(principal), request_id(request), address, ctx.policy.version)


Audit = Annotated[Auditor, Depends(get_auditor)]


async def get_caller(principal: CurrentPrincipal, auditor: Audit,
               x_purpose: Annotated[str | None, Header(alias="X-Purpose", description=(
                   "Why you read this: a purpose id of policies/purposes.yaml your role may use."))] = None) -> Caller:
    """Who asks and why, as the gate takes it: the caller, their auditor and `X-Purpose`."""
    return Caller(principal, auditor, x_purpose)


CurrentCaller = Annotated[Caller, Depends(get_caller)]


async def get_self_caller(principal: CurrentPrincipal, auditor: Audit) -> Caller:
    """A customer's own calls (`/me`): no `X-Purpose`; the purpose is implied."""
    return Caller(principal, auditor)


SelfCaller = Annotated[Caller, Depends(get_self_caller)]


async def get_customer_service(ctx: Context, uow: Uow) -> CustomerService:
    return CustomerService(uow, ctx.gate, index=ctx.blind_index, ring=ctx.key_ring, names=ctx.names,
                           importer=ctx.customer_importer())


Customers = Annotated[CustomerService, Depends(get_customer_service)]


async def get_document_service(ctx: Context, uow: Uow) -> DocumentService:
    """Filing under a contract asks the contracts area, an open break-glass the break-glass
    area: each handed in, so documents import neither."""
    return DocumentService(uow, ctx.gate, ctx.blob_store, units=ctx.db.unit_of_work,
                           max_bytes=ctx.settings.blobs.document_max_bytes, contracts=ContractRepository,
                           break_glass=lambda session: BreakGlassRepository(session).is_open)


Documents = Annotated[DocumentService, Depends(get_document_service)]


async def get_contract_service(ctx: Context, uow: Uow) -> ContractService:
    return ContractService(uow, ctx.gate, zone=ctx.settings.zone, policy_dir=ctx.policy.path)


Contracts = Annotated[ContractService, Depends(get_contract_service)]
