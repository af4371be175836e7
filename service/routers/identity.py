"""The signed-in user, and the administrator's users and departments calls."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Query, status

from archive.identity.models import Department, User
from archive.identity.service import NewUser, UserChange
from service.deps import Audit, CurrentPrincipal, DepartmentAdmin, Identity, UserAdmin
from service.schemas.common import Page, problem_responses
from service.schemas.identity import DepartmentIn, DepartmentOut, UserIn, UserOut, UserPatch

router = APIRouter(prefix="/api/v1", tags=["identity"])


def user_out(user: User) -> UserOut:
    return UserOut(
        id=user.id, username=user.username, display_name=user.display_name, kind=user.kind,
        roles=user.roles, department=user.department.code if user.department else None,
        disabled=user.disabled, created_at=user.created_at, last_login_at=user.last_login_at,
    )


def department_out(department: Department) -> DepartmentOut:
    return DepartmentOut(id=department.id, code=department.code, name=department.name)


@router.get("/users/me", response_model=UserOut, summary="The signed-in user", responses=problem_responses(404))
def me(principal: CurrentPrincipal, identity: Identity) -> UserOut:
    return user_out(identity.get_user(principal.id))


@router.get("/users", response_model=Page[UserOut], summary="List users (admin)", responses=problem_responses(403))
def list_users(
    _admin: UserAdmin,
    identity: Identity,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    cursor: Annotated[str | None, Query(max_length=64, description="The last username of the previous page.")] = None,
) -> Page[UserOut]:
    page = identity.user_page(limit=limit, after=cursor)
    return Page(items=[user_out(u) for u in page.users], next_cursor=page.next_cursor)


@router.post("/users", response_model=UserOut, status_code=status.HTTP_201_CREATED, summary="Add a user (admin)",
             responses=problem_responses(403, 409))
def add_user(body: UserIn, _admin: UserAdmin, identity: Identity, audit: Audit) -> UserOut:
    return user_out(identity.create_user(NewUser(
        username=body.username, display_name=body.display_name, password=body.password, roles=body.roles,
        department_code=body.department, kind=body.kind, customer_id=body.customer_id,
    ), audit))


@router.patch("/users/{user_id}", response_model=UserOut, summary="Change roles, department, password or disable",
              responses=problem_responses(403, 404))
def patch_user(user_id: uuid.UUID, body: UserPatch, _admin: UserAdmin, identity: Identity, audit: Audit) -> UserOut:
    change = UserChange(roles=body.roles, department_code=body.department,
                        department_given="department" in body.model_fields_set, disabled=body.disabled,
                        password=body.password)
    return user_out(identity.change_user(user_id, change, audit))


@router.post("/users/{user_id}/revoke-sessions", response_model=UserOut,
             summary="Revoke every token the user holds (admin)", responses=problem_responses(403, 404))
def revoke_sessions(user_id: uuid.UUID, _admin: UserAdmin, identity: Identity, audit: Audit) -> UserOut:
    return user_out(identity.revoke_user_sessions(user_id, audit))


@router.get("/departments", response_model=Page[DepartmentOut], summary="List departments (admin)",
            responses=problem_responses(403))
def list_departments(_admin: DepartmentAdmin, identity: Identity) -> Page[DepartmentOut]:
    return Page(items=[department_out(d) for d in identity.departments()], next_cursor=None)


@router.post("/departments", response_model=DepartmentOut, status_code=status.HTTP_201_CREATED,
             summary="Add a department (admin)", responses=problem_responses(403, 409))
def add_department(body: DepartmentIn, _admin: DepartmentAdmin, identity: Identity, audit: Audit) -> DepartmentOut:
    return department_out(identity.create_department(body.code, body.name, audit))
