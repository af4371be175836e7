"""Customers: every read and correction goes through the gate (purpose, scope, fields), which
logs it before anything is shown."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from starlette.concurrency import run_in_threadpool

from archive.customers.importing import CustomerImporter, ImportRefused, ImportReport, read_csv
from archive.customers.models import STATUSES
from archive.customers.repository import CustomerFilter, CustomerRepository
from archive.customers.service import CustomerRegistry
from archive.customers.validation import parse_new_customer
from archive.errors import InvalidInput, PayloadTooLarge
from archive.identity.repository import IdentityRepository
from crypto.envelope import FieldCipher
from service.deps import Audit, Context, CurrentPrincipal, Uow

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
STATUS_VALUES = tuple(STATUSES)
XPurpose = Annotated[str | None, Header(alias="X-Purpose", description="Why you read this (purposes.yaml).")]


class SearchIn(BaseModel):
    """Exactly one identifier; it travels in the body, never in a URL."""

    model_config = ConfigDict(extra="forbid")
    id_number: str | None = Field(None, max_length=64, description="ID card, business licence or tax number.")
    phone: str | None = Field(None, max_length=64)
    email: str | None = Field(None, max_length=254)

    @model_validator(mode="after")
    def _exactly_one(self) -> SearchIn:
        given = [k for k in ("id_number", "phone", "email") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError("give exactly one of id_number, phone, email")
        return self

    @property
    def field(self) -> tuple[str, str]:
        name = next(k for k in ("id_number", "phone", "email") if getattr(self, k))
        return name, str(getattr(self, name))


class CustomerIn(BaseModel):
    """The customer information record (客户资料卡). Sensitive fields are encrypted on arrival."""

    model_config = ConfigDict(extra="forbid")
    kind: str = Field(description="individual, enterprise or institution")
    name: str = Field(max_length=200)
    code: str | None = Field(None, max_length=32, description="C-…; generated when absent")
    department: str | None = Field(None, description="Department code; default: yours")
    owner: str | None = Field(None, description="Username of the owning rep; default: you")
    status: str = "potential"
    industry: str | None = None
    region: str | None = None
    size_class: str | None = None
    id_number: str | None = None
    tax_number: str | None = None
    phone: str | None = None
    email: str | None = None
    address: str | None = None
    annual_volume: str | None = None
    credit_rating: str | None = None
    cooperation_since: str | None = None


@router.post("", status_code=201, summary="Register a customer (duplicate-checked)",
             description="One record per company: the same ID or tax number as a registered customer is "
                         "refused (409, pointing at it if you may see it); the same phone or a near-identical "
                         "name is accepted and listed in `review_flags` for a person to check.",
             responses={409: {"description": "Already registered"}})
def create_customer(body: CustomerIn, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                    response: Response, x_purpose: XPurpose = None) -> dict[str, Any]:
    new, errors = parse_new_customer(body.model_dump())
    if new is None:
        raise InvalidInput("The customer record has problems; nothing was registered.", errors=errors)
    registry = CustomerRegistry(CustomerRepository(uow.session), FieldCipher(ctx.key_ring), ctx.blind_index)
    shown = ctx.customers.create(uow.session, principal, x_purpose, audit, new, registry, ctx.key_ring)
    response.headers["ETag"] = f'"{shown["version"]}"'
    response.headers["Location"] = f"/api/v1/customers/{shown['id']}"
    return shown


MAX_IMPORT_BYTES = 20 * 1024 * 1024


@router.post("/import", summary="Import customers from CSV (all or nothing)",
             description="Body: the CSV itself (`Content-Type: text/csv`), in API.md's import format. Every row "
                         "is checked first; if any is bad nothing is imported and the 422 problem lists each "
                         "(`errors`: line, field, message). Idempotent by customer code; `update=true` applies "
                         "changed values of existing codes as corrections. The file is read in memory, never "
                         "stored.",
             responses={422: {"description": "Bad rows; nothing imported"}})
async def import_customers(request: Request, principal: CurrentPrincipal, ctx: Context, audit: Audit, uow: Uow,
                           x_purpose: XPurpose = None, update: bool = False, dry_run: bool = False,
                           encoding: str = "utf-8") -> dict[str, Any]:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"An import file may be at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB; "
                                  "split it.")
    rows, problems = read_csv(bytes(data), encoding)
    if problems:
        raise ImportRefused(ImportReport(problems=problems))
    uow.rollback()  # the importer runs its own transactions; this request's holds nothing
    importer = CustomerImporter(ctx.db, ctx.customers, ctx.key_ring, ctx.blind_index)
    report = await run_in_threadpool(importer.run, principal, x_purpose, rows, auditor=audit, update=update,
                                     dry_run=dry_run)
    return {"rows": report.rows, "created": report.created, "updated": report.updated,
            "unchanged": report.unchanged, "flagged": report.flagged, "dry_run": report.dry_run}


class ResolveIn(BaseModel):
    outcome: Literal["distinct", "duplicate"]
    note: str = Field("", max_length=2000)


@router.get("/review-flags", summary="Possible duplicates waiting for review",
            description="Customers registered with the same phone or a near-identical name as another, in "
                        "your scope; the other record is named only if you may see it. `resolved=true` lists "
                        "the decided ones.")
def review_flags(principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit, x_purpose: XPurpose = None,
                 resolved: bool = False, limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, Any]:
    items = ctx.customers.review_flags(uow.session, principal, x_purpose, audit, resolved=resolved, limit=limit)
    return {"items": items, "next_cursor": None}


@router.post("/review-flags/{flag_id}/resolve", summary="Decide a possible duplicate (department head)",
             description="`distinct`: two customers after all; `duplicate`: one company twice — end or merge "
                         "the later record through its own steps.")
def resolve_flag(flag_id: uuid.UUID, body: ResolveIn, principal: CurrentPrincipal, ctx: Context, uow: Uow,
                 audit: Audit, x_purpose: XPurpose = None) -> dict[str, Any]:
    return ctx.customers.resolve_flag(uow.session, principal, x_purpose, audit, flag_id, body.outcome, body.note)


@router.get("", summary="Customers in your scope",
            description="Only customers your role reaches under the stated purpose; fields the purpose does "
                        "not admit are masked or null. Cursor: the last id of the previous page.")
def list_customers(principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit, x_purpose: XPurpose = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   cursor: uuid.UUID | None = None,
                   register: Annotated[Literal["active", "inactive", "all"], Query(
                       description="active (default): without suspended and ended customers")] = "active",
                   status: Annotated[Literal[STATUS_VALUES] | None, Query()] = None,  # type: ignore[valid-type]
                   kind: Annotated[Literal["individual", "enterprise", "institution"] | None, Query()] = None,
                   department: Annotated[str | None, Query(description="Department code")] = None,
                   owner: Annotated[str | None, Query(description="Username; `-` for customers nobody owns")] = None,
                   region: str | None = None, industry: str | None = None) -> dict[str, Any]:
    identity = IdentityRepository(uow.session)
    dept = identity.department_by_code(department) if department else None
    user = identity.user_by_username(owner) if owner and owner != "-" else None
    nothing = uuid.UUID(int=0)  # an unknown department or user matches no customer (still decided and logged)
    filters = CustomerFilter(register=register, status=status, kind=kind,
                             department_id=(dept.id if dept else nothing) if department else None,
                             owner_id=(user.id if user else nothing) if owner and owner != "-" else None,
                             unowned=owner == "-", region=region, industry=industry)
    items = ctx.customers.list(uow.session, principal, x_purpose, audit, limit=limit + 1, after=cursor,
                               filters=filters)
    page = items[:limit]
    return {"items": page, "next_cursor": page[-1]["id"] if len(items) > limit else None}


@router.post("/search", summary="Exact search by ID number, phone or e-mail",
             description="Compares blind indexes, never plaintext. Returns the matches in your scope; staff who "
                         "could borrow also learn how many lie outside it (`outside_scope`).")
def search_customers(body: SearchIn, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                     x_purpose: XPurpose = None) -> dict[str, Any]:
    field, value = body.field
    return ctx.customers.search(uow.session, principal, x_purpose, audit, field, value)


@router.get("/{customer_id}", summary="One customer, as the purpose admits",
            responses={403: {"description": "Outside your scope (with a pointer to the loan form)"},
                       404: {"description": "No such customer you could ever read"}})
def read_customer(customer_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                  response: Response, x_purpose: XPurpose = None) -> dict[str, Any]:
    shown = ctx.customers.read(uow.session, principal, x_purpose, customer_id, audit)
    response.headers["ETag"] = f'"{shown["version"]}"'
    return shown


class StatusIn(BaseModel):
    status: str = Field(description="potential, target, active, stagnant, suspended or ended")
    reason: str = Field(max_length=2000)


class OwnerIn(BaseModel):
    owner: str | None = Field(description="Username of a staff member of the customer's department; null: nobody")
    reason: str = Field(max_length=2000)


IfMatch = Annotated[str | None, Header(alias="If-Match", description="The ETag you read (optional here).")]


@router.post("/{customer_id}/status", summary="A lifecycle step (with its reason)",
             description="potential → target → active → stagnant; out to suspended (may revive) or ended. "
                         "Every step keeps its reason, who and when (GET …/history). Suspended and ended "
                         "customers leave the active register.",
             responses={409: {"description": "Not an allowed step from the current status"}})
def change_status(customer_id: uuid.UUID, body: StatusIn, principal: CurrentPrincipal, ctx: Context, uow: Uow,
                  audit: Audit, response: Response, x_purpose: XPurpose = None,
                  if_match: IfMatch = None) -> dict[str, Any]:
    shown = ctx.customers.change_status(uow.session, principal, x_purpose, audit, customer_id, body.status,
                                        body.reason, if_match)
    response.headers["ETag"] = f'"{shown["version"]}"'
    return shown


@router.post("/{customer_id}/owner", summary="Assign or reassign the owner (department head)",
             description="The manager has the final say on ownership (003): a staff member of the customer's "
                         "department, or nobody. Kept in the history with its reason.")
def assign_owner(customer_id: uuid.UUID, body: OwnerIn, principal: CurrentPrincipal, ctx: Context, uow: Uow,
                 audit: Audit, response: Response, x_purpose: XPurpose = None,
                 if_match: IfMatch = None) -> dict[str, Any]:
    shown = ctx.customers.assign_owner(uow.session, principal, x_purpose, audit, customer_id, body.owner,
                                       body.reason, if_match)
    response.headers["ETag"] = f'"{shown["version"]}"'
    return shown


@router.get("/{customer_id}/history", summary="Who changed what, when and why",
            description="Lifecycle steps, corrections and owner changes: field names and reasons, never values.")
def customer_history(customer_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                     x_purpose: XPurpose = None) -> dict[str, Any]:
    return ctx.customers.history(uow.session, principal, x_purpose, audit, customer_id)


@router.patch("/{customer_id}", summary="Correct a customer's data (If-Match required)",
              description="Body: the fields to change and `reason`. Only fields the purpose shows you in clear; "
                          "owner, department, status and grade change through their own steps. Send the ETag "
                          "you read as If-Match: 412 if the record changed since, 428 without it. Each change "
                          "keeps the previous value, still encrypted, in the correction history.",
              responses={412: {"description": "The record changed since you read it"},
                         428: {"description": "If-Match missing"}})
def correct_customer(customer_id: uuid.UUID, principal: CurrentPrincipal, ctx: Context, uow: Uow, audit: Audit,
                     response: Response, body: Annotated[dict[str, Any], Body()],
                     x_purpose: XPurpose = None,
                     if_match: Annotated[str | None, Header(alias="If-Match")] = None) -> dict[str, Any]:
    changes = dict(body)
    reason = changes.pop("reason", "")
    registry = CustomerRegistry(CustomerRepository(uow.session), FieldCipher(ctx.key_ring), ctx.blind_index)
    shown = ctx.customers.update(uow.session, principal, x_purpose, audit, customer_id, if_match, changes,
                                 str(reason or ""), registry)
    response.headers["ETag"] = f'"{shown["version"]}"'
    return shown
