"""Customers: each route parses the request, makes one call to the customer service (which
runs the gate: purpose, scope, fields, the audit event) and answers with a typed shape."""

from __future__ import annotations

import uuid
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Body, Header, Query, Request, Response
from starlette.concurrency import run_in_threadpool

from archive.customers.models import STATUSES
from archive.customers.service import CustomerQuery
from archive.customers.validation import parse_new_customer
from archive.errors import InvalidInput, PayloadTooLarge
from service.deps import CurrentCaller, Customers
from service.schemas.common import Page, problem_responses
from service.schemas.customers import (
    CustomerCreatedOut,
    CustomerIn,
    CustomerOut,
    CustomerSearchOut,
    HistoryOut,
    ImportOut,
    OwnerIn,
    ResolvedFlagOut,
    ResolveIn,
    ReviewFlagOut,
    SearchIn,
    StatusIn,
)

router = APIRouter(prefix="/api/v1/customers", tags=["customers"])
STATUS_VALUES = tuple(STATUSES)
MAX_IMPORT_BYTES = 20 * 1024 * 1024
Encoding = Annotated[str, Query(pattern=r"^[A-Za-z][A-Za-z0-9_.:-]{0,39}$",
                                description="The file's text encoding, e.g. `gbk` for files from Chinese Excel.")]
IfMatch = Annotated[str | None, Header(alias="If-Match", description="The ETag you read.")]
# Reads can meet a customer whose data key was destroyed (crypto-shredding): 410.
READ = (400, 403, 410)


def _etag(response: Response, shown: dict[str, object]) -> dict[str, object]:
    response.headers["ETag"] = f'"{shown["version"]}"'
    return shown


@router.post("", status_code=201, response_model=CustomerCreatedOut, summary="Register a customer (duplicate-checked)",
             description="One record per company: the same ID or tax number as a registered customer is "
                         "refused (409, pointing at it if you may see it); the same phone or a near-identical "
                         "name is accepted and listed in `review_flags` for a person to check.",
             responses=problem_responses(400, 403, 409, 410))
def create_customer(body: CustomerIn, caller: CurrentCaller, customers: Customers,
                    response: Response) -> dict[str, object]:
    new, errors = parse_new_customer(body.model_dump())
    if new is None:
        raise InvalidInput("The customer record has problems; nothing was registered.", errors=errors)
    shown = customers.create(caller, new)
    response.headers["Location"] = f"/api/v1/customers/{shown['id']}"
    return _etag(response, shown)


@router.post("/import", response_model=ImportOut, summary="Import customers from CSV (all or nothing)",
             description="Body: the CSV itself (`Content-Type: text/csv`), in API.md's import format. Every row "
                         "is checked first; if any is bad nothing is imported and the 422 problem lists each "
                         "(`errors`: line, field, message). Idempotent by customer code; `update=true` applies "
                         "changed values of existing codes as corrections. The file is read in memory, never "
                         "stored.",
             openapi_extra={"requestBody": {"required": True, "content": {"text/csv": {"schema": {"type": "string"}}}}},
             responses=problem_responses(400, 403, 413))
async def import_customers(request: Request, caller: CurrentCaller, customers: Customers, update: bool = False,
                           dry_run: bool = False, encoding: Encoding = "utf-8") -> Any:
    data = bytearray()
    async for chunk in request.stream():
        data += chunk
        if len(data) > MAX_IMPORT_BYTES:
            raise PayloadTooLarge(f"An import file may be at most {MAX_IMPORT_BYTES // (1024 * 1024)} MiB; "
                                  "split it.")
    return await run_in_threadpool(customers.import_file, caller, bytes(data), encoding=encoding, update=update,
                                   dry_run=dry_run)


@router.get("/review-flags", response_model=Page[ReviewFlagOut], summary="Possible duplicates waiting for review",
            description="Customers registered with the same phone or a near-identical name as another, in "
                        "your scope; the other record is named only if you may see it. `resolved=true` lists "
                        "the decided ones.",
            responses=problem_responses(400, 403))
def review_flags(caller: CurrentCaller, customers: Customers, resolved: bool = False,
                 limit: Annotated[int, Query(ge=1, le=500)] = 100) -> dict[str, object]:
    return {"items": customers.review_flags(caller, resolved=resolved, limit=limit), "next_cursor": None}


@router.post("/review-flags/{flag_id}/resolve", response_model=ResolvedFlagOut,
             summary="Decide a possible duplicate (department head)",
             description="`distinct`: two customers after all; `duplicate`: one company twice — end or merge "
                         "the later record through its own steps.",
             responses=problem_responses(400, 403, 404, 409))
def resolve_flag(flag_id: uuid.UUID, body: ResolveIn, caller: CurrentCaller, customers: Customers) -> dict[str, object]:
    return customers.resolve_flag(caller, flag_id, body.outcome, body.note)


@router.get("", response_model=Page[CustomerOut], summary="Customers in your scope",
            description="Only customers your role reaches under the stated purpose; fields the purpose does "
                        "not admit are masked or null. Cursor: the last id of the previous page.",
            responses=problem_responses(*READ))
def list_customers(caller: CurrentCaller, customers: Customers, limit: Annotated[int, Query(ge=1, le=500)] = 50,
                   cursor: uuid.UUID | None = None,
                   register: Annotated[Literal["active", "inactive", "all"], Query(
                       description="active (default): without suspended and ended customers")] = "active",
                   status: Annotated[Literal[STATUS_VALUES] | None, Query()] = None,  # type: ignore[valid-type]
                   kind: Annotated[Literal["individual", "enterprise", "institution"] | None, Query()] = None,
                   department: Annotated[str | None, Query(description="Department code")] = None,
                   owner: Annotated[str | None, Query(description="Username; `-` for customers nobody owns")] = None,
                   region: str | None = None, industry: str | None = None) -> dict[str, object]:
    query = CustomerQuery(register=register, status=status, kind=kind, department=department, owner=owner,
                          region=region, industry=industry)
    return customers.list_page(caller, query, limit=limit, after=cursor)


@router.post("/search", response_model=CustomerSearchOut, response_model_exclude_unset=True,
             summary="Exact search by ID number, phone or e-mail",
             description="Compares blind indexes, never plaintext. Returns the matches in your scope; staff who "
                         "could borrow also learn how many lie outside it (`outside_scope`).",
             responses=problem_responses(*READ))
def search_customers(body: SearchIn, caller: CurrentCaller, customers: Customers) -> dict[str, object]:
    field, value = body.field
    return customers.search(caller, field, value)


@router.get("/{customer_id}", response_model=CustomerOut, summary="One customer, as the purpose admits",
            responses=problem_responses(*READ, 404))
def read_customer(customer_id: uuid.UUID, caller: CurrentCaller, customers: Customers,
                  response: Response) -> dict[str, object]:
    return _etag(response, customers.read(caller, customer_id))


@router.post("/{customer_id}/status", response_model=CustomerOut, summary="A lifecycle step (with its reason)",
             description="potential → target → active → stagnant; out to suspended (may revive) or ended. "
                         "Every step keeps its reason, who and when (GET …/history). Suspended and ended "
                         "customers leave the active register.",
             responses=problem_responses(*READ, 404, 409, 412))
def change_status(customer_id: uuid.UUID, body: StatusIn, caller: CurrentCaller, customers: Customers,
                  response: Response, if_match: IfMatch = None) -> dict[str, object]:
    return _etag(response, customers.change_status(caller, customer_id, body.status, reason=body.reason,
                                                   if_match=if_match))


@router.post("/{customer_id}/owner", response_model=CustomerOut,
             summary="Assign or reassign the owner (department head)",
             description="The manager has the final say on ownership (003): a staff member of the customer's "
                         "department, or nobody. Kept in the history with its reason.",
             responses=problem_responses(*READ, 404, 412))
def assign_owner(customer_id: uuid.UUID, body: OwnerIn, caller: CurrentCaller, customers: Customers,
                 response: Response, if_match: IfMatch = None) -> dict[str, object]:
    return _etag(response, customers.assign_owner(caller, customer_id, body.owner, reason=body.reason,
                                                  if_match=if_match))


@router.get("/{customer_id}/history", response_model=HistoryOut, summary="Who changed what, when and why",
            description="Lifecycle steps, corrections and owner changes: field names and reasons, never values.",
            responses=problem_responses(400, 403, 404))
def customer_history(customer_id: uuid.UUID, caller: CurrentCaller, customers: Customers) -> dict[str, object]:
    return customers.history(caller, customer_id)


@router.patch("/{customer_id}", response_model=CustomerOut, summary="Correct a customer's data (If-Match required)",
              description="Body: the fields to change and `reason`. Only fields the purpose shows you in clear; "
                          "owner, department, status and grade change through their own steps. Send the ETag "
                          "you read as If-Match: 412 if the record changed since, 428 without it. Each change "
                          "keeps the previous value, still encrypted, in the correction history.",
              responses=problem_responses(*READ, 404, 412, 428))
def correct_customer(customer_id: uuid.UUID, caller: CurrentCaller, customers: Customers, response: Response,
                     body: Annotated[dict[str, Any], Body(description="Fields to correct, and `reason`.")],
                     if_match: IfMatch = None) -> dict[str, object]:
    changes = dict(body)
    reason = changes.pop("reason", "")
    return _etag(response, customers.correct(caller, customer_id, changes, reason=str(reason or ""),
                                             if_match=if_match))
